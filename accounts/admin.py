from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import ReadOnlyPasswordHashWidget
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import BooleanField, ExpressionWrapper, Q

from accounts.hashers import readable_password
from accounts.models import User


class PasswordHashWidget(ReadOnlyPasswordHashWidget):
    """Django's masked summary (algorithm, parameters), for the old service's bare PHC string too: Django's
    own widget calls it an invalid format."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, value and readable_password(value), attrs)


class UserChangeForm(DjangoUserChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "password" in self.fields:
            self.fields["password"].widget = PasswordHashWidget()


class VerifiedFilter(admin.SimpleListFilter):
    title = "verified"
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(verified_at__isnull=self.value() == "no")
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    # The OAuth payload and jwt are secrets: no form, list, search or filter shows them.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Account", {"fields": ("email", "verified_at", "pricing_tier", "stripe_customer_id")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)
    readonly_fields = ("last_login", "created_at", "updated_at")
    list_display = (
        "username", "email", "pricing_tier", "verified", "stripe_customer_id", "oauth_connected", "is_staff",
        "is_active", "created_at",
    )  # fmt: skip
    list_filter = ("pricing_tier", VerifiedFilter, "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email", "=stripe_customer_id")
    ordering = ("-created_at",)

    def get_queryset(self, request):
        # Connected or not, decided in the database: the payload column is never loaded, let alone decrypted.
        connected = ExpressionWrapper(Q(discord_oauth_payload__isnull=False), output_field=BooleanField())
        return super().get_queryset(request).annotate(oauth_is_connected=connected)

    @admin.display(description="verified", boolean=True, ordering="verified_at")
    def verified(self, obj):
        return obj.verified_at is not None

    @admin.display(description="Discord OAuth", boolean=True)
    def oauth_connected(self, obj):
        return obj.oauth_is_connected
