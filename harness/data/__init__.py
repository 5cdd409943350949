"""Layer 3, data: items from files, spreadsheets and datasets (tables, tasks), corpora from
document folders (documents), and one-file splits (splitting), read into a TaskData.
"""
