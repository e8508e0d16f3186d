"""Date and number formats for the configured country (COUNTRY, default PE).

Django's own "es" formats are Spain's (1.234,56); Peru, Mexico and most of Central
America write 1,234.56. The interface language stays "es"; the country picks the formats.
"""

import os

_COUNTRIES = {
    # Peru: 21/11/2026, S/ 1,234.56
    "PE": {"DECIMAL_SEPARATOR": ".", "THOUSAND_SEPARATOR": ","},
    "MX": {"DECIMAL_SEPARATOR": ".", "THOUSAND_SEPARATOR": ","},
    "GT": {"DECIMAL_SEPARATOR": ".", "THOUSAND_SEPARATOR": ","},
    "DO": {"DECIMAL_SEPARATOR": ".", "THOUSAND_SEPARATOR": ","},
    "CO": {"DECIMAL_SEPARATOR": ",", "THOUSAND_SEPARATOR": "."},
    "CL": {"DECIMAL_SEPARATOR": ",", "THOUSAND_SEPARATOR": "."},
    "AR": {"DECIMAL_SEPARATOR": ",", "THOUSAND_SEPARATOR": "."},
    "CR": {"DECIMAL_SEPARATOR": ",", "THOUSAND_SEPARATOR": "\xa0"},
}
_numbers = _COUNTRIES.get(os.environ.get("COUNTRY", "PE").upper(), _COUNTRIES["PE"])

DATE_FORMAT = "j \\d\\e F \\d\\e Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j \\d\\e F \\d\\e Y H:i"
YEAR_MONTH_FORMAT = "F \\d\\e Y"
MONTH_DAY_FORMAT = "j \\d\\e F"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
# Four-digit years only: "01/01/69" read as 1969 and "31/12/68" as 2068 (Python's pivot),
# a birth date or a payment a century off; the imports already refuse two digits.
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = [
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
]
DECIMAL_SEPARATOR = _numbers["DECIMAL_SEPARATOR"]
THOUSAND_SEPARATOR = _numbers["THOUSAND_SEPARATOR"]
NUMBER_GROUPING = 3
