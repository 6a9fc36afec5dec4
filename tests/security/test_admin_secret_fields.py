"""No admin, present or future, lists, filters, searches, sorts or looks up a secret field."""

import pytest
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from gova.secret_admin import SecretGuard, SecretSafeAdminSite, check_secret_fields_are_guarded
from moderation.models import ActionEvent, Moderator
from tests.factories import ModeratorFactory, UserFactory

JWT = "eyJhbGciOiJIUzI1NiJ9.secret-jwt"


@pytest.fixture
def owner(db):
    user = UserFactory(username="alice", jwt=JWT, discord_oauth_payload={"access_token": "t"})
    ModeratorFactory(user=user)
    return user


@pytest.mark.parametrize(("changelist", "lookup"), [
    ("accounts_user", {"username": "alice", "jwt__gte": "eyJ"}),
    ("accounts_user", {"jwt": JWT}),
    ("accounts_user", {"jwt__isnull": "False"}),
    ("accounts_user", {"discord_oauth_payload__startswith": "gAAAAA"}),
    ("accounts_user", {"password__startswith": "argon2"}),
    ("moderation_moderator", {"user__jwt__startswith": "eyJ"}),
    ("moderation_moderator", {"user__discord_oauth_payload__gte": "g"}),
    ("moderation_moderator", {"user__password__startswith": "argon2"}),
    ("moderation_actionevent", {"moderator__user__jwt__gte": "e"}),
    ("auth_group", {"user__jwt__gte": "e"}),
])  # fmt: skip
def test_a_lookup_reaching_a_secret_field_is_refused_before_any_query(
    admin_client, owner, changelist, lookup, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):  # session and request.user only: nothing filtered the secret
        response = admin_client.get(reverse(f"admin:{changelist}_changelist"), lookup)
    assert response.status_code == 400


def test_lookups_on_other_fields_still_filter(admin_client, owner):
    url = reverse("admin:accounts_user_changelist")
    response = admin_client.get(url, {"username": "alice", "pricing_tier": "free"})
    assert response.status_code == 200 and response.context["cl"].result_count == 1


def test_every_registered_admin_is_guarded_and_declares_no_secret():
    assert all(isinstance(model_admin, SecretGuard) for model_admin in admin.site._registry.values())
    assert check_secret_fields_are_guarded() == []


@admin.display(ordering="user__jwt")
def token_column(moderator):
    return "hidden"


class CarelessUserAdmin(admin.ModelAdmin):
    list_display = ("username", "jwt")
    list_filter = ("discord_oauth_payload",)
    search_fields = ("=password",)
    ordering = ("-jwt",)
    readonly_fields = ("jwt",)


class CarelessModeratorAdmin(admin.ModelAdmin):
    list_display = ("name", token_column)
    search_fields = ("user__jwt",)
    date_hierarchy = "user__jwt"


def test_a_new_admin_naming_secret_fields_fails_the_system_check():
    site = SecretSafeAdminSite(name="careless")
    site.register(User, CarelessUserAdmin)
    site.register(Moderator, CarelessModeratorAdmin)
    errors = [error for error in check_secret_fields_are_guarded() if error.obj.admin_site is site]
    assert {error.id for error in errors} == {"gova.E002"}
    assert sorted(error.msg.split(" names ")[0] for error in errors) == [
        "CarelessModeratorAdmin.date_hierarchy", "CarelessModeratorAdmin.list_display",
        "CarelessModeratorAdmin.search_fields",
        "CarelessUserAdmin.list_display", "CarelessUserAdmin.list_filter", "CarelessUserAdmin.ordering",
        "CarelessUserAdmin.readonly_fields", "CarelessUserAdmin.search_fields",
    ]  # fmt: skip


def test_an_admin_on_a_site_that_does_not_guard_fails_the_system_check():
    site = AdminSite(name="unguarded")
    site.register(User, admin.ModelAdmin)
    errors = [error for error in check_secret_fields_are_guarded() if error.obj.admin_site is site]
    assert [error.id for error in errors] == ["gova.E001"]


def test_options_computed_per_request_are_refused_too():
    class ComputedAdmin(admin.ModelAdmin):
        def get_search_fields(self, request):
            return ("username", "jwt")

    site = SecretSafeAdminSite(name="computed")
    site.register(User, ComputedAdmin)
    with pytest.raises(ImproperlyConfigured, match="User.jwt"):
        site._registry[User].get_search_fields(RequestFactory().get("/"))


def test_a_form_showing_a_secret_field_is_refused(admin_user):
    class FormAdmin(admin.ModelAdmin):
        fields = ("username", "jwt")

    site = SecretSafeAdminSite(name="form")
    site.register(User, FormAdmin)
    request = RequestFactory().get("/")
    request.user = admin_user
    with pytest.raises(ImproperlyConfigured, match="User.jwt"):
        site._registry[User].get_form(request)


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_every_guarded_admin_still_renders_its_list_and_add_pages(admin_client, model):
    opts = model._meta
    assert admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code in (200, 403)


@pytest.mark.django_db
def test_a_changelist_following_every_foreign_key_selects_no_secret(admin_user):
    class EveryJoinAdmin(admin.ModelAdmin):
        list_select_related = True  # moderator -> user and evaluation -> moderator -> user

    site = SecretSafeAdminSite(name="joins")
    site.register(ActionEvent, EveryJoinAdmin)
    request = RequestFactory().get("/")
    request.user = admin_user
    sql = str(site._registry[ActionEvent].get_changelist_instance(request).queryset.query)
    assert sql.count('JOIN "users"') == 2  # the moderator's owner and the evaluation's moderator's owner
    assert not any(column in sql for column in ("jwt", "password", "discord_oauth_payload"))
