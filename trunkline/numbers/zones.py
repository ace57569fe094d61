"""The local time zone of a phone number, when its number plan tells (US area codes, countries).

Used to place callbacks inside the callee's calling window; unknown numbers fall back to the
organization's zone.
"""

_US_ZONES: dict[str, str] = {
    "America/New_York": (
        "201 202 203 207 212 215 216 234 239 240 248 267 269 276 301 302 304 305 313 315 321 "
        "330 332 336 339 347 351 352 386 401 404 407 410 412 413 419 434 440 443 470 475 478 "
        "484 508 513 516 517 518 540 551 561 567 570 571 585 586 603 607 609 610 614 616 617 "
        "631 646 656 667 678 689 703 704 706 716 717 718 724 727 732 734 740 754 757 762 770 "
        "772 774 781 786 802 803 804 810 813 814 828 835 843 845 848 856 857 860 862 863 864 "
        "878 904 908 910 912 914 917 919 929 931 937 941 947 954 959 973 978 980 984 989"
    ),
    "America/Chicago": (
        "205 210 214 217 218 219 224 225 228 251 254 256 262 270 281 309 312 314 316 318 319 "
        "320 325 331 334 337 346 361 402 405 409 414 417 430 432 463 469 479 501 504 507 512 "
        "515 531 534 539 563 573 580 601 605 608 612 615 618 620 630 636 641 651 659 662 682 "
        "701 708 712 713 715 726 731 737 763 769 773 779 785 806 815 816 817 830 832 847 870 "
        "872 901 903 913 918 920 936 940 952 956 972 979"
    ),
    "America/Denver": "208 303 307 385 406 435 505 575 719 720 801 970 986",
    "America/Phoenix": "480 520 602 623 928",
    "America/Los_Angeles": (
        "206 209 213 253 279 310 323 341 360 408 415 424 425 442 458 503 509 510 530 541 559 "
        "562 564 619 626 628 650 657 661 669 702 707 714 725 747 760 775 805 818 820 831 858 "
        "909 916 925 949 951 971"
    ),
    "America/Anchorage": "907",
    "Pacific/Honolulu": "808",
}
ZONE_BY_AREA_CODE = {code: zone for zone, codes in _US_ZONES.items() for code in codes.split()}

ZONE_BY_COUNTRY_CODE = {
    "44": "Europe/London",
    "353": "Europe/Dublin",
    "33": "Europe/Paris",
    "49": "Europe/Berlin",
    "34": "Europe/Madrid",
    "39": "Europe/Rome",
    "31": "Europe/Amsterdam",
    "32": "Europe/Brussels",
    "41": "Europe/Zurich",
    "46": "Europe/Stockholm",
    "81": "Asia/Tokyo",
    "65": "Asia/Singapore",
    "91": "Asia/Kolkata",
    "64": "Pacific/Auckland",
}
"""Countries with a single time zone (or one that almost everyone there uses)."""


def zone_for_number(e164: str) -> str | None:
    """The IANA zone of an E.164 number, or None when its number plan does not tell."""
    digits = e164.removeprefix("+")
    if digits.startswith("1") and len(digits) == 11:
        return ZONE_BY_AREA_CODE.get(digits[1:4])
    for length in (3, 2):
        zone = ZONE_BY_COUNTRY_CODE.get(digits[:length])
        if zone:
            return zone
    return None
