"""GET /healthz for the container's healthcheck: 200 when the app can query its database, else 503.

A middleware placed first, not a view: it answers before host validation (the probe comes from inside
the container as 127.0.0.1, which DJANGO_ALLOWED_HOSTS need not list) and before the HTTPS redirect.
"""

from django.db import DatabaseError, connection
from django.http import HttpResponse

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
        return HttpResponse("ok\n", content_type="text/plain")
