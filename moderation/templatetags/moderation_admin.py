from django import template
from django.contrib.admin.views.main import PAGE_VAR

from moderation.paginators import OLDER_VAR, NewestFirstChangeList, older_cursor

register = template.Library()


@register.simple_tag
def keyset_links(cl) -> dict:
    """Links for keyset pagination: 'older' continues after the last row shown (`?older=<created_at>_<key>`).

    Only for a list newest first by (created_at, key): `(created_at, key) < (last row's)` is the next page at any
    depth, an index range scan instead of an OFFSET, whatever kind of key the rows have.
    """
    links = {"older": None, "newest": None}
    if not isinstance(cl, NewestFirstChangeList) or not cl.keyset:
        return links
    if cl.older_than is not None:
        links["newest"] = cl.get_query_string(remove=[OLDER_VAR, PAGE_VAR])
    rows = list(cl.result_list)  # evaluated already by the result table above: no query
    if len(rows) == cl.list_per_page:
        links["older"] = cl.get_query_string({OLDER_VAR: older_cursor(rows[-1])}, remove=[PAGE_VAR])
    return links
