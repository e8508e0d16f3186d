from hypothesis import given
from hypothesis import strategies as st

from lib import search


@given(st.text())
def test_normalizing_twice_changes_nothing(text):
    assert search.normalize(search.normalize(text)) == search.normalize(text)


@given(st.integers(min_value=900_000_000, max_value=999_999_999), st.sampled_from([" ", "-", ""]))
def test_a_phone_typed_with_any_separators_is_one_term_of_its_digits(number, separator):
    digits = str(number)
    typed = separator.join([digits[:3], digits[3:6], digits[6:]])

    assert search.terms(typed) == [digits]
    assert search.terms(f"+51 {typed}") == [f"51{digits}"]


def test_words_are_separate_terms_without_accents():
    assert search.terms("  Rosa  HUAMÁN ") == ["rosa", "huaman"]
    assert search.terms("") == []


def test_digits_of_other_scripts_and_full_width_letters_are_written_in_ascii():
    assert search.ascii_digits("４５８７１２３６") == "45871236"
    assert search.ascii_digits("٤٥٨٧١٢٣٦") == "45871236"
    assert search.ascii_digits("ＡＢ１２３") == "AB123"
    # Not decimal digits: left for the checks to refuse.
    assert search.ascii_digits("4587123²") == "4587123²"
    assert search.ascii_digits("Peña") == "Peña"


def test_a_document_typed_in_full_width_digits_is_searched_as_its_digits():
    assert search.terms("４５８７ １２３６") == ["45871236"]
    assert search.normalize("٤٥٨٧") == "4587"


def test_digits_of_keeps_the_digits_a_phone_is_dialled_with():
    assert search.digits_of("+51 ９８７-654 ٣٢١") == "51987654321"
    assert search.digits_of("987²654³21") == "98765421"  # superscripts are not digits
