# No models. The module exists because Django sends pre_migrate only to apps with a models
# module, and dbops' pre_migrate check must run before the first migration.
