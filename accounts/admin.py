from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    # The OAuth payload and jwt are secrets: no form, list, search or filter shows them.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Account", {"fields": ("email", "verified_at", "pricing_tier", "stripe_customer_id")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)
    readonly_fields = ("last_login", "created_at", "updated_at")
    list_display = ("username", "email", "pricing_tier", "is_staff", "is_active", "created_at")
    list_filter = ("pricing_tier", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email", "=stripe_customer_id")
    ordering = ("-created_at",)
