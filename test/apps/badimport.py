"""An app that fails to import (test/badapp_test.go): gonicorn exits with 3."""

raise RuntimeError("badimport-marker: this module cannot be imported")

