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
