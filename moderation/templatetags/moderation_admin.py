from django import template
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR

register = template.Library()


@register.simple_tag
def keyset_links(cl) -> dict:
    """Links for keyset pagination: 'older' continues after the last row shown (`<pk>__lt=`), by primary key.

    Only for the default order (newest key first): a uuidv7 key sorts like the creation time, so
    `pk < last` is the next page at any depth, an index range scan instead of an OFFSET.
    """
    pk_name = cl.opts.pk.name
    cursor_param = f"{pk_name}__lt"
    links = {"older": None, "newest": None}
    if ORDER_VAR in cl.params or cl.queryset.query.order_by not in ((f"-{pk_name}",), ("-pk",)):
        return links
    if cursor_param in cl.params:
        links["newest"] = cl.get_query_string(remove=[cursor_param, PAGE_VAR])
    rows = list(cl.result_list)  # evaluated already by the result table above: no query
    if len(rows) == cl.list_per_page:
        links["older"] = cl.get_query_string({cursor_param: rows[-1].pk}, remove=[PAGE_VAR])
    return links
