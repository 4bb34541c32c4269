"""The jobs of the project, each a module with a `main(argv)`: train (also `sectortag train`), evaluate
(`make evaluate`), validate_data (`make validate-data`) and bench (`make bench`)."""
