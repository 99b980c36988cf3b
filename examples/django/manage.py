#!/usr/bin/env python3
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Is it installed (Debian: python3-django) and "
            "is the python3 on PATH the one it is installed for?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
