"""Secret fields stay out of every admin, present and future: one mechanism, not a list per admin.

The default admin site wraps each ModelAdmin it registers in SecretGuard, which
- refuses a changelist lookup that reaches a secret field, directly or across a relation
  (`?jwt__gte=`, `?user__jwt__startswith=`): a 400 like Django's own refusal of `password` lookups,
  answered before any query runs, so neither the result nor its timing says anything;
- refuses list_display, list_filter, search_fields, ordering, sortable_by, date_hierarchy,
  list_editable and readonly_fields that name one (`?o=` and `?q=` only reach what these name),
  at `manage.py check` for the declared options and on each request for computed ones, and a form
  that would show one (the password's masked hash widget excepted);
- defers the secret fields of every model a changelist joins (list_select_related), so a list of
  moderators does not read, let alone decrypt, its owners' secrets.
A system check fails when any admin site holds a ModelAdmin that is not guarded.

Secret fields are declared on the field (gova.secret_fields).
"""

import functools

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import all_sites
from django.contrib.admin.views.main import ChangeList
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models.constants import LOOKUP_SEP

from gova.secret_fields import secret_field_names, secret_in_path

# ModelAdmin options that make a column listed, filtered, searched, sorted or shown as text.
GUARDED_OPTIONS = (
    "list_display",
    "list_display_links",
    "list_filter",
    "search_fields",
    "ordering",
    "sortable_by",
    "list_editable",
    "readonly_fields",
)


def secret_references(model_admin, option: str, items) -> list[str]:
    """One line per item of a ModelAdmin option that reaches a secret field."""
    problems = []
    for item in items or ():
        for path in _paths(model_admin, item):
            field = secret_in_path(model_admin.model, path)
            if field is not None:
                problems.append(
                    f"{type(model_admin).__name__}.{option} names {path!r}, which reaches the secret field "
                    f"{field.model.__name__}.{field.name}: secrets are never listed, filtered, searched or sorted"
                )
    return problems


def _paths(model_admin, item):
    """The field paths an option item stands for: a name, a (name, filter) pair, or a callable's admin_order_field."""
    if isinstance(item, (list, tuple)):
        item = item[0]
    if isinstance(item, str):
        yield item
        attribute = getattr(model_admin, item, None)
    else:
        attribute = item
    order_field = getattr(attribute, "admin_order_field", None)
    if isinstance(order_field, str):
        yield order_field


class SecretChangeList(ChangeList):
    def apply_select_related(self, qs):
        qs = super().apply_select_related(qs)
        return qs.defer(*_secret_paths(qs.model, qs.query.select_related))


def _secret_paths(model, select_related, prefix=""):
    """Secret fields of the models a select_related joins. True (every non-null foreign key) is walked
    the way Django walks it."""
    if select_related is True:
        select_related = _non_null_foreign_keys(model, depth=5)
    paths = []
    for name, nested in (select_related or {}).items():
        related_model = model._meta.get_field(name).related_model
        paths += [f"{prefix}{name}{LOOKUP_SEP}{secret}" for secret in secret_field_names(related_model)]
        paths += _secret_paths(related_model, nested, f"{prefix}{name}{LOOKUP_SEP}")
    return paths


def _non_null_foreign_keys(model, depth):
    if depth == 0:
        return {}
    return {
        field.name: _non_null_foreign_keys(field.related_model, depth - 1)
        for field in model._meta.concrete_fields
        if field.is_relation and field.many_to_one and not field.null
    }


@functools.cache
def _secret_changelist(changelist):
    if issubclass(changelist, SecretChangeList):
        return changelist
    return type(changelist.__name__, (SecretChangeList, changelist), {})


class SecretGuard:
    """Mixed into every registered ModelAdmin by SecretSafeAdminSite (see the module docstring)."""

    def lookup_allowed(self, lookup, value, request=None):
        if secret_in_path(self.model, lookup) is not None:
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_changelist(self, request, **kwargs):
        return _secret_changelist(super().get_changelist(request, **kwargs))

    def _refuse_secrets(self, option, items):
        problems = secret_references(self, option, items)
        if problems:
            raise ImproperlyConfigured(problems[0])
        return items

    def get_list_display(self, request):
        return self._refuse_secrets("list_display", super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        return self._refuse_secrets("list_display_links", super().get_list_display_links(request, list_display))

    def get_list_filter(self, request):
        return self._refuse_secrets("list_filter", super().get_list_filter(request))

    def get_search_fields(self, request):
        return self._refuse_secrets("search_fields", super().get_search_fields(request))

    def get_ordering(self, request):
        return self._refuse_secrets("ordering", super().get_ordering(request))

    def get_sortable_by(self, request):
        return self._refuse_secrets("sortable_by", super().get_sortable_by(request))

    def get_readonly_fields(self, request, obj=None):
        return self._refuse_secrets("readonly_fields", super().get_readonly_fields(request, obj))

    def get_form(self, request, obj=None, **kwargs):
        from django.contrib.auth.forms import ReadOnlyPasswordHashField  # imports models: not at app loading

        form = super().get_form(request, obj, **kwargs)
        secrets = set(secret_field_names(self.model))
        for name, form_field in form.base_fields.items():
            # The password's own widget shows the hash's algorithm and a masked summary, never the hash.
            if name in secrets and not isinstance(form_field, ReadOnlyPasswordHashField):
                raise ImproperlyConfigured(
                    f"{type(self).__name__} puts the secret field {self.model.__name__}.{name} in its form"
                )
        return form


def guarded(admin_class):
    if issubclass(admin_class, SecretGuard):
        return admin_class
    return type(admin_class.__name__, (SecretGuard, admin_class), {"__module__": admin_class.__module__})


class SecretSafeAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, guarded(admin_class or admin.ModelAdmin), **options)


class SecretSafeAdminConfig(AdminConfig):
    default_site = "gova.secret_admin.SecretSafeAdminSite"

    def ready(self):
        super().ready()
        checks.register(check_secret_fields_are_guarded, checks.Tags.admin)


def check_secret_fields_are_guarded(app_configs=None, **kwargs):
    errors = []
    for site in all_sites:
        for model, model_admin in site._registry.items():
            if app_configs is not None and model._meta.app_config not in app_configs:
                continue
            if not isinstance(model_admin, SecretGuard):
                errors.append(
                    checks.Error(
                        f"{type(model_admin).__name__} on {type(site).__name__} is not guarded against secret fields",
                        hint="Register admins on the default site (django.contrib.admin.site), or subclass "
                        "SecretSafeAdminSite for another site.",
                        obj=model_admin,
                        id="gova.E001",
                    )
                )
                continue
            for option in (*GUARDED_OPTIONS, "date_hierarchy"):
                value = getattr(model_admin, option, None)
                items = [value] if isinstance(value, str) else value
                errors += [
                    checks.Error(problem, obj=model_admin, id="gova.E002")
                    for problem in secret_references(model_admin, option, items)
                ]
    return errors
