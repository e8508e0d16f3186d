import pytest
from django.core.exceptions import ValidationError

from crm import validators


@pytest.mark.parametrize(
    ("document_type", "number"),
    [
        ("dni", "45678912"),
        ("ruc", "20131312955"),
        ("ruc", "20100070970"),
        ("ce", "001234567"),
        ("passport", "AB123456"),
    ],
)
def test_it_accepts_valid_documents(document_type, number):
    validators.validate_document(document_type, number)


@pytest.mark.parametrize(
    ("document_type", "number", "message"),
    [
        ("dni", "1234567", "8 dígitos"),
        ("dni", "1234567A", "8 dígitos"),
        ("ruc", "2013131295", "11 dígitos"),
        ("ruc", "30131312955", "empezar con 10, 15, 17 o 20"),
        ("ruc", "20131312954", "dígito verificador"),
        ("ce", "12345", "9 a 12"),
        ("passport", "AB1", "6 a 12"),
        ("dni", "00000000", "solo ceros"),
        ("ce", "000000000", "solo ceros"),
        ("passport", "000000", "solo ceros"),
        ("dni", "", "Ingrese"),
    ],
)
def test_it_rejects_invalid_documents_with_a_spanish_reason(document_type, number, message):
    with pytest.raises(ValidationError) as excinfo:
        validators.validate_document(document_type, number)

    assert message in str(excinfo.value.message_dict["document_number"])


def test_it_normalizes_spaces_dots_and_dashes():
    assert validators.normalize_document_number(" 45.678-912 ") == "45678912"
    assert validators.normalize_document_number("ab 123456") == "AB123456"


def test_digits_a_phone_or_an_input_method_sends_are_kept_in_ascii():
    assert validators.normalize_document_number("４５８７１２３６") == "45871236"
    assert validators.normalize_document_number("٤٥.٨٧١-٢٣٦") == "45871236"
    assert validators.normalize_document_number("ａｂ１２３４５６") == "AB123456"


@pytest.mark.parametrize(
    ("document_type", "number"),
    [("dni", "4587123²"), ("dni", "٤٥٨٧١٢٣٦"), ("ruc", "２０１３１３１２９５５")],
)
def test_a_number_not_written_in_ascii_digits_is_refused(document_type, number):
    # The forms and imports write it in ASCII first; anything else that reaches the check
    # is refused rather than stored as a document nobody can find.
    with pytest.raises(ValidationError):
        validators.validate_document(document_type, number)


@pytest.mark.parametrize("text", ["Ana\x01", "Ana\x0b", "Ana\x7f", "A\x00na\x1f"])
def test_a_control_character_is_named_by_its_code(text):
    problem = validators.control_character_problem(text)

    assert problem and f"U+{ord(text[-1]):04X}" in problem


@pytest.mark.parametrize("text", ["Ana", "Jr. Puno\n120\tLima\r\n", "A\x00na", 42])
def test_text_breaks_and_a_nul_left_to_its_own_check_are_no_control_character(text):
    assert validators.control_character_problem(text) is None
