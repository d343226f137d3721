"""Pure mappings of the connectors: ACLs from Confluence restrictions and Graph permissions, cursors,
HTTP statuses onto the error tree, and the URL guard's address check."""

from __future__ import annotations

import pytest

from connectors.base import dump_cursor, http_error, load_cursor
from connectors.confluence import cql_date, page_acl, parse_when
from connectors.sharepoint import permissions_acl
from connectors.urls import is_public
from core.errors import AuthError, PermanentError, TransientError


def test_confluence_restrictions_become_principals() -> None:
    content = {
        "restrictions": {
            "read": {
                "restrictions": {
                    "user": {"results": [{"email": "Bob@X.com"}, {"accountId": "557058:abc"}]},
                    "group": {"results": [{"name": "finance"}]},
                }
            }
        }
    }
    assert page_acl(content) == ["bob@x.com", "confluence:557058:abc", "group:finance"]
    assert page_acl({"restrictions": {"read": {"restrictions": {"user": {"results": []}}}}}) is None


def test_graph_permissions_become_principals_and_org_links_make_items_public() -> None:
    user = {"grantedToV2": {"user": {"email": "Dana@Contoso.com", "id": "u1"}}}
    group = {"grantedToV2": {"group": {"displayName": "Finance", "id": "g1"}}}
    site = {"grantedToIdentitiesV2": [{"siteGroup": {"displayName": "Site Members", "id": "3"}}]}
    assert permissions_acl([user, group, site]) == ["dana@contoso.com", "group:Finance", "group:Site Members"]
    assert permissions_acl([user, {"link": {"scope": "organization"}}]) is None
    assert permissions_acl([user, {"link": {"scope": "users"}}]) == ["dana@contoso.com"]


def test_cursors_round_trip_and_a_broken_one_starts_over() -> None:
    assert load_cursor(dump_cursor({"since": "2026/01/05 09:04", "start": 6})) == {
        "since": "2026/01/05 09:04",
        "start": 6,
    }
    assert load_cursor("not json") == {} and load_cursor("[1]") == {} and load_cursor(None) == {}


def test_cql_dates_are_utc_minutes() -> None:
    when = parse_when("2026-01-05T10:04:59.123+01:00")
    assert when is not None and cql_date(when) == "2026/01/05 09:04"
    assert parse_when("yesterday") is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (429, TransientError), (503, TransientError), (404, PermanentError)],
)
def test_http_statuses_map_onto_the_error_tree(status: int, kind: type[Exception]) -> None:
    error = http_error("Graph", status, {"Retry-After": "12"})
    assert type(error) is kind
    if isinstance(error, TransientError):
        assert error.retry_after_s == 12.0


def test_only_global_addresses_are_public() -> None:
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1::1")
    for private in (
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ):
        assert not is_public(private), private
