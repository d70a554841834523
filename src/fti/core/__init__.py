"""Domain dataclasses and pure rules: names, keys, records. No I/O, no imports of other fti layers."""
