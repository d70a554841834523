"""Executors: where parallel work (backfills, tuning trials, batch inference chunks) runs."""
