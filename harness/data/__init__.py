"""Layer 3, data: items, documents and tables read into tasks, and one-file splits."""
