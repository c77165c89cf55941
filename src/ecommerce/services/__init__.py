"""The shop's components, each a folder of its own."""
