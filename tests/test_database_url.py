from gova.database_url import database_from_url


def test_the_embedded_database_keeps_its_connections_between_requests():
    # A new connection per request cost the development server 7.5 ms a page.
    config = database_from_url("")
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True
