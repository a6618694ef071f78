"""The records and the store: neutral ground between the measuring side (loaders write it) and
the presentation (reports read it). Imports nothing of browserdl but errors."""
