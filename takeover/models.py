# No models. The module exists because Django sends pre_migrate only to apps with a models
# module, and the takeover's pre_migrate check must run before the first migration.
