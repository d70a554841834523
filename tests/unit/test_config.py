"""fti.yaml loading: defaults, file, environment and overrides, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from fti.config import FtiConfig, load_config
from fti.errors import ValidationError
from fti.init_template import render_config_template


def write(folder: Path, text: str) -> Path:
    (folder / "fti.yaml").write_text(text)
    return folder


def test_defaults_without_a_file_live_under_dot_fti(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, env={})
    assert loaded.config_file is None
    assert loaded.root == tmp_path.resolve()
    kind, options = loaded.backend("catalog")
    assert kind == "sqlite"
    assert options["url"] == f"sqlite:///{tmp_path.resolve()}/.fti/catalog.db"
    assert loaded.backend("artifact_store") == ("local", {"uri": f"{tmp_path.resolve()}/.fti/artifacts"})
    assert set(loaded.sources.values()) == {"default"}


def test_file_is_found_in_a_parent_folder(tmp_path: Path) -> None:
    write(tmp_path, "project: parent_project\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    loaded = load_config(nested, env={})
    assert loaded.config.project == "parent_project"
    assert loaded.root == tmp_path


def test_the_init_template_loads_to_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, render_config_template("demo"))
    loaded = load_config(tmp_path, env={})
    assert loaded.config.model_dump() == FtiConfig(project="demo").model_dump()


def test_environment_overrides_file_and_records_the_source(tmp_path: Path) -> None:
    write(tmp_path, "catalog:\n  url: sqlite:///from_file.db\n")
    loaded = load_config(tmp_path, env={"FTI_CATALOG_URL": "postgresql://u@h/db", "FTI_ONLINE_STORE_TYPE": "redis"})
    assert loaded.config.catalog.url == "postgresql://u@h/db"
    assert loaded.config.online_store.type == "redis"
    assert loaded.sources["catalog.url"] == "env FTI_CATALOG_URL"
    assert loaded.sources["online_store.path"] == "default"


def test_overrides_win_over_environment(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, env={"FTI_PROJECT": "from_env"}, overrides={"project": "from_flag"})
    assert loaded.config.project == "from_flag"
    assert loaded.sources["project"] == "override"


def test_wrong_type_names_key_value_and_expectation(tmp_path: Path) -> None:
    write(tmp_path, "executor:\n  max_workers: lots\n")
    with pytest.raises(ValidationError) as info:
        load_config(tmp_path, env={})
    message = str(info.value)
    assert "executor.max_workers = 'lots'" in message
    assert "valid integer" in message
    assert "fti.yaml" in message


def test_unknown_backend_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, "online_store:\n  type: cassandra\n")
    with pytest.raises(
        ValidationError,
        match=r"online_store.type = 'cassandra': unknown backend 'cassandra'; "
        r"expected one of redis, sqlite",
    ):
        load_config(tmp_path, env={})


def test_unknown_uri_scheme_is_an_unknown_backend(tmp_path: Path) -> None:
    write(tmp_path, "artifact_store:\n  uri: gs://bucket/x\n")
    with pytest.raises(ValidationError, match=r"artifact_store.uri = 'gs://bucket/x': unknown backend 'gs'"):
        load_config(tmp_path, env={})


def test_unknown_key_is_named(tmp_path: Path) -> None:
    write(tmp_path, "catalog:\n  url: sqlite:///x.db\n  pool: 3\n")
    with pytest.raises(ValidationError, match=r"catalog.pool = 3: an unknown key; remove it or check its spelling"):
        load_config(tmp_path, env={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    write(tmp_path, "feature_sotre: {}\n")
    with pytest.raises(ValidationError, match=r"feature_sotre = \{\}: an unknown key"):
        load_config(tmp_path, env={})


def test_invalid_yaml_says_so(tmp_path: Path) -> None:
    write(tmp_path, "catalog: [unclosed\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_config(tmp_path, env={})


def test_a_list_at_the_top_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "- a\n- b\n")
    with pytest.raises(ValidationError, match="expected a mapping of sections"):
        load_config(tmp_path, env={})


def test_an_empty_file_means_defaults(tmp_path: Path) -> None:
    write(tmp_path, "")
    assert load_config(tmp_path, env={}).config == FtiConfig()


def test_s3_paths_are_kept_and_relative_paths_resolved(tmp_path: Path) -> None:
    write(
        tmp_path,
        "artifact_store:\n  uri: s3://bucket/pre\n  endpoint_url: http://127.0.0.1:9\n"
        "online_store:\n  path: data/online.db\n",
    )
    loaded = load_config(tmp_path, env={})
    assert loaded.backend("artifact_store") == (
        "s3",
        {"uri": "s3://bucket/pre", "endpoint_url": "http://127.0.0.1:9"},
    )
    assert loaded.backend("online_store") == ("sqlite", {"path": str(tmp_path / "data/online.db")})


def test_serving_section_matches_the_server_settings_and_takes_env_overrides(tmp_path: Path) -> None:
    from fti.config import ServingConfig
    from fti.inference.server import ServingSettings

    # tokens and the deployments served are applied by `fti serve` around the app; so are the metrics folder and
    # the request log's spool (on or off in the configuration, a folder of the project for the server)
    server_only = set(ServingSettings.model_fields) - {"multiprocess_dir", "log_spool_dir"}
    assert set(ServingConfig.model_fields) - {"require_tokens", "deployments", "log_spool"} == server_only
    assert load_config(tmp_path, env={"FTI_SERVING_DEPLOYMENTS": "fraud, ab"}).config.serving.deployments == [
        "fraud",
        "ab",
    ]
    (tmp_path / "fti.yaml").write_text("serving:\n  port: 9000\n  require_tokens: true\n")
    loaded = load_config(tmp_path, env={"FTI_SERVING_PORT": "9100", "FTI_SERVING_BATCHING": "true"})
    serving = loaded.config.serving
    assert (serving.port, serving.require_tokens, serving.batching) == (9100, True, True)
    assert loaded.sources["serving.port"] == "env FTI_SERVING_PORT"
    with pytest.raises(ValidationError, match="serving.workers"):
        load_config(tmp_path, env={"FTI_SERVING_WORKERS": "0"})


def test_a_file_from_an_earlier_init_with_a_null_executor_address_still_loads(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: old\nexecutor:\n  type: local\n  max_workers: null\n  address: null\n")
    loaded = load_config(tmp_path)
    assert loaded.backend("executor") == ("local", {})


def test_an_executor_address_is_refused_for_local_processes(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("project: p\nexecutor:\n  address: ray://head:10001\n")
    with pytest.raises(
        ValidationError, match=r"executor\.address.*set executor\.type to 'ray' or remove executor\.address"
    ):
        load_config(tmp_path)


def test_a_ray_executor_takes_its_address_and_resources(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text(
        "project: p\nexecutor:\n  type: ray\n  address: 'head:6379'\n  resources: {CPU: 2, GPU: 1}\n"
    )
    assert load_config(tmp_path).backend("executor") == (
        "ray",
        {"address": "head:6379", "resources": {"CPU": 2.0, "GPU": 1.0}},
    )


def test_a_misspelt_variable_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        load_config(tmp_path, env={"FTI_SERVING_REQUIRE_TOKEN": "true", "FTI_DEBUG": "1"})
    assert str(raised.value).startswith(
        "Unknown environment variable FTI_SERVING_REQUIRE_TOKEN (did you mean FTI_SERVING_REQUIRE_TOKENS?): "
    )


def test_variables_that_are_no_settings_are_accepted(tmp_path: Path) -> None:
    env = {"FTI_DEBUG": "1", "FTI_UI_TOKEN": "t", "FTI_SERVE_PROJECT": "/p", "FTI_BENCH_BATCHING": "0", "PATH": "/x"}
    assert load_config(tmp_path, env=env).config == load_config(tmp_path, env={}).config


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(tmp_path: Path) -> None:
    (tmp_path / "fti.yaml").write_text("serving:\n  port: 8000\n")
    with pytest.raises(ValidationError) as raised:
        load_config(tmp_path, env={"FTI_SERVING_WORKERS": "many"})
    message = str(raised.value)
    assert message.startswith("Invalid configuration: serving.workers (from environment variable FTI_SERVING_WORKERS)")
    assert "fti.yaml" not in message
    with pytest.raises(ValidationError, match=r"Invalid .*fti\.yaml: serving\.port = 'x'"):
        (tmp_path / "fti.yaml").write_text("serving:\n  port: x\n")
        load_config(tmp_path, env={})
