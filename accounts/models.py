from asgiref.sync import sync_to_async
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.fields import EncryptedJSONField
from accounts.hashers import make_stored_password, readable_password, upgraded_password
from gova.db import uuid7_primary_key
from gova.secret_fields import secret


class PricingTier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"


class UserManager(DjangoUserManager):
    use_in_migrations = True

    def get_queryset(self):
        # Django loads request.user on every request; the OAuth payload is decrypted only when read.
        return super().get_queryset().defer("discord_oauth_payload")

    def _create_user_object(self, username, email, password, **extra_fields):
        # Django's create_user() and createsuperuser hash with make_password() here, not through set_password():
        # the hash takes the configured format (GOVA_LEGACY_FORMATS) all the same.
        user = super()._create_user_object(username, email, None, **extra_fields)
        user.password = make_stored_password(password)
        return user


class User(AbstractBaseUser, PermissionsMixin):
    """A person who owns moderators, and a Django login (staff and superusers use the admin).

    Columns follow the original service's `users` table; Django's own (is_staff, is_active,
    is_superuser, last_login) carry database defaults so that other writers can still insert.
    """

    # Names follow the original service's schema, so an existing database maps one to one.
    user_id = uuid7_primary_key()
    username = models.CharField(
        max_length=None,
        unique=True,
        validators=[UnicodeUsernameValidator()],
        error_messages={"unique": "A user with that username already exists."},
    )
    # A CharField: EmailField forces varchar(254), and the original column is unbounded.
    email = models.CharField(max_length=None, unique=True, validators=[validate_email])
    # Unbounded like the original: argon2id PHC strings from the old service fit as they are.
    password = secret(models.CharField(max_length=None))
    jwt = secret(
        models.CharField(max_length=None, null=True, blank=True, help_text="Last issued token; never displayed.")
    )
    discord_oauth_payload = EncryptedJSONField(null=True, blank=True)
    pricing_tier = models.CharField(
        max_length=None, choices=PricingTier, default=PricingTier.FREE, db_default=PricingTier.FREE
    )
    stripe_customer_id = models.CharField(max_length=None, unique=True, null=True, blank=True)
    is_staff = models.BooleanField(default=False, db_default=False)
    is_active = models.BooleanField(default=True, db_default=True)
    is_superuser = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When the email address was verified.")

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        db_table = "users"
        constraints = [
            # choices= only guards forms; the database guards every other writer.
            models.CheckConstraint(condition=Q(pricing_tier__in=PricingTier.values), name="user_pricing_tier_valid"),
        ]

    def __str__(self) -> str:
        return self.username

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)

    def set_password(self, raw_password):
        # createsuperuser, changepassword, ensure_superuser and the admin's password forms all come here.
        self.password = make_stored_password(raw_password)
        self._password = raw_password

    def check_password(self, raw_password):
        """Django's check, for the old service's bare PHC string too. A login rewrites the hash only into a
        format the current setting writes (accounts.hashers.upgraded_password), and only if the stored hash
        is still the one verified: a password the old service changed meanwhile is never overwritten."""
        stored = self.password
        rehash = []  # Django calls this back for a correct password whose hash it would upgrade
        if not check_password(raw_password, readable_password(stored), setter=rehash.append):
            return False
        replacement = upgraded_password(raw_password, stored, must_update=bool(rehash))
        if replacement is not None and self.pk is not None:
            if type(self)._base_manager.filter(pk=self.pk, password=stored).update(password=replacement):
                self.password = replacement
        return True

    async def acheck_password(self, raw_password):
        return await sync_to_async(self.check_password)(raw_password)

    def _get_session_auth_hash(self, secret=None):
        # Django's HMAC (same key salt, so sessions made before stay valid) over Django's form of the hash: a
        # format conversion (a login, convert_legacy_formats) logs nobody out; a new password still does.
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        password = readable_password(self.password)
        return salted_hmac(key_salt, password, secret=secret, algorithm="sha256").hexdigest()
