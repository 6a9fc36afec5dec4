from django.conf import settings
from django.core.exceptions import BadRequest


class RejectNulCharacters:
    """Answer 400 to a NUL character in the path or a query/form parameter.

    PostgreSQL text cannot hold NUL: `?status__exact=%00` reached the database through an admin
    filter and came back as a DataError, a 500. Forms already refuse NUL (ProhibitNullCharactersValidator);
    filters, search and lookups do not.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        parameters = [*request.GET.lists()]
        if request.method == "POST":  # form bodies (urlencoded or multipart); other bodies parse to nothing
            parameters += request.POST.lists()
        texts = [request.path, *(key for key, _ in parameters), *(v for _, values in parameters for v in values)]
        if any("\x00" in text for text in texts):
            raise BadRequest("NUL character in the request")
        return self.get_response(request)


def client_ip(request) -> str | None:
    """The client's address for login throttling: GOVA_CLIENT_IP_HEADER behind a proxy, else REMOTE_ADDR.

    The header must be one the proxy overwrites with a single address (X-Real-IP). Not X-Forwarded-For:
    its left-most entry is whatever the client sent."""
    header = settings.GOVA_CLIENT_IP_HEADER
    return (header and request.META.get(header)) or request.META.get("REMOTE_ADDR")
