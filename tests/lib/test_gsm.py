"""lib.gsm: how many parts an SMS takes (GSM-7 160/153, extension characters twice, UCS-2
70/67), and the plain version of a text for «SMS sin tildes»."""

import pytest

from lib import gsm


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        # ñ, é, ü, ¿, ¡ are in the GSM alphabet: still 160 a part.
        ("ñéü¿¡" + "a" * 155, 1),
    ],
)
def test_a_gsm_text_takes_parts_of_160_then_153(text, parts):
    assert gsm.parts(text) == parts


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("€" * 80, 1),  # 160 characters: each € counts two
        ("€" * 81, 2),
        ("a" * 159 + "[", 2),
        ("^{}\\[~]|" + "a" * 144, 1),
        ("^{}\\[~]|" + "a" * 145, 2),
    ],
)
def test_extension_characters_count_two(text, parts):
    assert gsm.parts(text) == parts


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("á" + "a" * 69, 1),
        ("á" + "a" * 70, 2),
        ("á" + "a" * 133, 2),
        ("á" + "a" * 134, 3),
        ("😀" + "a" * 68, 1),  # an emoji is two UTF-16 units
        ("😀" + "a" * 69, 2),
    ],
)
def test_one_character_outside_gsm_makes_parts_of_70_then_67(text, parts):
    assert gsm.parts(text) == parts


def test_plain_writes_the_accents_outside_gsm_without_them():
    assert gsm.plain("Ramírez, Ángel, Íñigo, Óscar, Úrsula, acción") == (
        "Ramirez, Angel, Iñigo, Oscar, Ursula, accion"
    )


def test_plain_keeps_the_letters_gsm_has():
    text = "Sr. Pérez, su cuota vence mañana. ¿Pagó? ¡Gracias! Güero, É, Ñ, Ü, à, è"

    assert (
        gsm.plain(text) == "Sr. Pérez, su cuota vence mañana. ¿Pago? ¡Gracias! Güero, É, Ñ, Ü, à, è"
    )


def test_plain_writes_typographic_marks_in_ascii():
    assert gsm.plain("«Hola» “Rosa” ‘ya’ – pague — hoy…") == '"Hola" "Rosa" \'ya\' - pague - hoy...'


def test_plain_leaves_what_has_no_gsm_equivalent():
    text = "Gracias 😀 Ω ж"

    assert gsm.plain(text) == text
    assert not gsm.is_gsm(gsm.plain(text))


def test_a_plain_text_of_spanish_takes_gsm_parts():
    text = (
        "Estimado Ramírez: su cuota de S/ 150.00 vence el miércoles. Pague en línea o en su "
        "agencia más cercana, gracias."
    )

    assert gsm.parts(text) == 2
    assert gsm.parts(gsm.plain(text)) == 1
