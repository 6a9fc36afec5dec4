"""Log in by username (Django, the admin) or by email (the old service's way), with the same password."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UsernameOrEmailBackend(ModelBackend):
    """ModelBackend that also accepts the email address where the username goes.

    A username match wins over an email match, so nobody can take over a login by choosing another
    user's email as their username.
    """

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        users = get_user_model()._default_manager
        login = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD) or email
        if login is None or password is None:
            return None
        user = users.filter(username=login).first() or users.filter(email=login).first()
        if user is None:
            # Hash anyway: a missing user must not answer faster than a wrong password (Django ticket #20760).
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
