"""Seller field validators (vetting/validation.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vetting.validation import (
    DEVICE_CATEGORIES,
    EU_VAT_COUNTRIES,
    ISO_COUNTRY_CODES,
    check_country,
    check_device_categories,
    check_email,
    check_url,
    check_vat_format,
    check_vat_id,
    normalise_country,
    normalise_vat,
    vat_prefix_for,
)

# --- country -------------------------------------------------------------------------------


def test_country_list_has_every_assigned_code() -> None:
    assert len(ISO_COUNTRY_CODES) == 249
    assert all(len(c) == 2 and c.isupper() and c.isascii() for c in ISO_COUNTRY_CODES)


@pytest.mark.parametrize("code", ["DE", "FR", "GR", "GB", "CH", "US", "AX", "BQ", "SS", "ZW"])
def test_assigned_codes_are_accepted(code: str) -> None:
    assert check_country(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "Country is required"),
        ("de", "must be written in capitals: DE"),
        ("UK", "use GB"),
        ("EL", "use GR"),
        ("XK", "is not an ISO 3166-1 alpha-2 country code"),
        ("EU", "is not an ISO 3166-1 alpha-2 country code"),
        ("DEU", "is not an ISO 3166-1 alpha-2 country code"),
        ("D", "is not an ISO 3166-1 alpha-2 country code"),
    ],
)
def test_bad_country_codes_are_explained(code: str, fragment: str) -> None:
    message = check_country(code)
    assert message is not None
    assert fragment in message


def test_normalise_country() -> None:
    assert normalise_country("  nl ") == "NL"


# --- VAT -----------------------------------------------------------------------------------

VALID_EU_VAT = {
    "AT": "ATU12345678",
    "BE": "BE0123456789",
    "BG": "BG123456789",
    "CY": "CY12345678X",
    "CZ": "CZ12345678",
    "DE": "DE123456789",
    "DK": "DK12345678",
    "EE": "EE123456789",
    "ES": "ESB12345678",
    "FI": "FI12345678",
    "FR": "FRXX123456789",
    "GR": "EL123456789",
    "HR": "HR12345678901",
    "HU": "HU12345678",
    "IE": "IE1234567WA",
    "IT": "IT12345678901",
    "LT": "LT123456789012",
    "LU": "LU12345678",
    "LV": "LV12345678901",
    "MT": "MT12345678",
    "NL": "NL123456789B01",
    "PL": "PL1234567890",
    "PT": "PT123456789",
    "RO": "RO1234567890",
    "SE": "SE123456789001",
    "SI": "SI12345678",
    "SK": "SK1234567890",
}


def test_all_27_member_states_have_a_format() -> None:
    assert set(VALID_EU_VAT) == EU_VAT_COUNTRIES
    assert len(EU_VAT_COUNTRIES) == 27


@pytest.mark.parametrize(("country", "vat"), sorted(VALID_EU_VAT.items()))
def test_valid_eu_vat_ids(country: str, vat: str) -> None:
    assert check_vat_id(vat, country) is None


@pytest.mark.parametrize(("country", "vat"), sorted(VALID_EU_VAT.items()))
def test_eu_vat_with_one_digit_more_is_refused(country: str, vat: str) -> None:
    # 10 extra digits is too long for every format, including the variable-length ones.
    assert check_vat_id(vat + "0123456789", country) is not None


@pytest.mark.parametrize(
    ("country", "vat"),
    [
        ("ES", "ES12345678Z"),  # an individual's NIF
        ("ES", "ESX1234567L"),  # NIE
        ("BE", "BE1123456789"),
        ("BG", "BG1234567890"),
        ("CZ", "CZ123456789"),
        ("CZ", "CZ1234567890"),
        ("LT", "LT123456789"),
        ("RO", "RO12"),
        ("IE", "IE1234567T"),
        ("IE", "IE1A23456B"),  # old format, letter in second place
        ("IE", "IE1+23456B"),
        ("FR", "FR12345678901"),
        ("AT", "atu 123.456-78"),
    ],
)
def test_other_valid_variants(country: str, vat: str) -> None:
    assert check_vat_id(vat, country) is None


@pytest.mark.parametrize(
    ("country", "vat", "fragment"),
    [
        ("DE", "DE12345678", "German format: DE + 9 digits"),
        ("AT", "AT12345678", "Austrian format: ATU + 8 digits"),
        ("BE", "BE2123456789", "starting with 0 or 1"),
        ("NL", "NL123456789X01", "Dutch format"),
        ("SE", "SE123456789012", "ending in 01"),
        ("RO", "RO0123456", "not starting with 0"),
        ("FR", "FRIO123456789", "no I or O"),
        ("CY", "CY123456789", "Cypriot format"),
        ("ES", "ES123456789", "not all digits"),
    ],
)
def test_malformed_eu_vat_names_the_format(country: str, vat: str, fragment: str) -> None:
    message = check_vat_id(vat, country)
    assert message is not None
    assert fragment in message


def test_greece_uses_el_prefix() -> None:
    assert vat_prefix_for("GR") == "EL"
    assert check_vat_id("EL094518372", "GR") is None
    assert check_vat_id("GR094518372", "GR") == ("Greek VAT IDs start with EL, not GR: EL094518372")


def test_prefix_must_match_the_sellers_country() -> None:
    assert check_vat_id("DE123456789", "AT") == (
        "VAT ID DE123456789 starts with DE, but the seller's country AT uses AT"
    )
    assert check_vat_id("EL123456789", "DE") == (
        "VAT ID EL123456789 starts with EL, but the seller's country DE uses DE"
    )


def test_missing_prefix_is_explained() -> None:
    assert check_vat_id("123456789", "DE") == "VAT ID 123456789 must start with DE (DE + 9 digits)"


@pytest.mark.parametrize("vat", ["GB123456789", "GB123456789012", "gb 123 4567 89"])
def test_uk_vat(vat: str) -> None:
    assert check_vat_id(vat, "GB") is None


@pytest.mark.parametrize("vat", ["GB12345678", "GB1234567890", "GBGD001", "UK123456789"])
def test_bad_uk_vat(vat: str) -> None:
    assert check_vat_id(vat, "GB") is not None


@pytest.mark.parametrize(
    "vat", ["CHE123456789", "CHE-123.456.789 MWST", "CHE-123.456.789 TVA", "che123456789iva"]
)
def test_swiss_vat(vat: str) -> None:
    assert check_vat_id(vat, "CH") is None


@pytest.mark.parametrize("vat", ["CHE12345678", "CHE123456789VAT", "CH123456789"])
def test_bad_swiss_vat(vat: str) -> None:
    message = check_vat_id(vat, "CH")
    assert message is not None
    assert "CHE" in message


@pytest.mark.parametrize(
    ("vat", "country"),
    [
        ("123456789MVA", "NO"),
        ("12-3456789", "US"),
        ("T1234567890123", "JP"),
        ("SEA840101AB1", "MX"),  # starts like a Swedish VAT number but is not one
    ],
)
def test_other_countries_accept_4_to_20_letters_and_digits(vat: str, country: str) -> None:
    assert check_vat_id(vat, country) is None


@pytest.mark.parametrize("vat", ["ABC", "A" * 21, "12/345"])
def test_other_countries_refuse_bad_lengths_and_symbols(vat: str) -> None:
    assert check_vat_id(vat, "US") is not None


def test_eu_vat_number_for_a_non_eu_seller_is_refused() -> None:
    assert check_vat_id("DE123456789", "US") == (
        "VAT ID DE123456789 is a German number, but the seller's country is US"
    )


def test_vat_is_required() -> None:
    assert check_vat_id(" - . ", "DE") == "VAT ID is required"


def test_vat_with_invalid_country_checks_the_format_its_prefix_implies() -> None:
    assert check_vat_id("GB12345", "UK") == (
        "VAT ID GB12345 does not have the UK format: GB + 9 or 12 digits"
    )
    assert check_vat_id("GB123456789", "UK") == "VAT ID cannot be checked without a valid country"


def test_check_vat_format_alone() -> None:
    assert check_vat_format("DE123456789") is None
    assert check_vat_format("X1") == "Tax ID X1 must be 4 to 20 letters and digits"
    assert check_vat_format("DE 1") is not None


def test_normalise_vat() -> None:
    assert normalise_vat(" de 123.456-789\u00a0") == "DE123456789"
    assert normalise_vat("che-123.456.789 mwst") == "CHE123456789MWST"


@given(st.text(max_size=40), st.sampled_from(sorted(ISO_COUNTRY_CODES) + ["", "UK", "de"]))
def test_vat_check_never_raises(vat: str, country: str) -> None:
    result = check_vat_id(vat, country)
    assert result is None or (isinstance(result, str) and result)


@given(st.text(max_size=30))
def test_normalise_vat_is_idempotent(vat: str) -> None:
    once = normalise_vat(vat)
    assert normalise_vat(once) == once


# --- URL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.recell-technik.de",
        "http://example.com/shop?lang=de#top",
        "https://shop.example.co.uk:8443/",
        "https://bücher.example/",
        "https://192.0.2.10/",
        "https://example.com.",
    ],
)
def test_good_urls(url: str) -> None:
    assert check_url(url) is None


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("www.example.com", "must start with http:// or https://"),
        ("ftp://example.com", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("https://", "no host name"),
        ("https:///path", "no host name"),
        ("https://localhost/", "not a valid domain name"),
        ("https://exa mple.com", "spaces"),
        ("https://user:secret@example.com", "user name or password"),
        ("https://example.com:99999/", "not a valid address"),
        ("https://-bad-.example.com", "not a valid domain name"),
        ("https://example..com", "not a valid domain name"),
        ("https://[::1", "not a valid address"),
        ("https://" + "a" * 2050 + ".com", "longer than"),
    ],
)
def test_bad_urls(url: str, fragment: str) -> None:
    message = check_url(url)
    assert message is not None
    assert fragment in message


@given(st.text(max_size=60))
def test_check_url_never_raises(url: str) -> None:
    result = check_url(url)
    assert result is None or result


# --- e-mail --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["info@recell-technik.de", "first.last+label@mail.example.co.uk", "o'neil@ie.example"]
)
def test_good_emails(email: str) -> None:
    assert check_email(email) is None


@pytest.mark.parametrize(
    "email",
    [
        "",
        "info",
        "info@",
        "@example.com",
        "info@localhost",
        "info@example.c",
        "in fo@example.com",
        "info..x@example.com",
        ".info@example.com",
        "info@-example.com",
        "info@example..com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_bad_emails(email: str) -> None:
    assert check_email(email) is not None


# --- device categories ---------------------------------------------------------------------


def test_allowed_device_categories() -> None:
    assert DEVICE_CATEGORIES == {"smartphone", "tablet", "laptop", "smartwatch", "console"}
    assert check_device_categories(["smartphone", "console", "laptop"]) is None
    assert check_device_categories(iter(["tablet"])) is None


def test_unknown_device_categories_are_named() -> None:
    message = check_device_categories(["smartphone", "tv", "Phone", "tv"])
    assert message == (
        "Unknown device categories 'tv', 'Phone' "
        "(allowed: console, laptop, smartphone, smartwatch, tablet)"
    )


def test_single_unknown_category_uses_singular() -> None:
    message = check_device_categories(["e-reader"])
    assert message is not None
    assert message.startswith("Unknown device category 'e-reader'")


def test_no_device_category_is_an_error() -> None:
    assert check_device_categories([]) == "At least one device category is required"
