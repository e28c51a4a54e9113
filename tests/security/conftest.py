"""The AppTest fixtures of tests/app (caches cleared, cheap hashing, a browser on this computer,
users in the app's database) for the security suite's page tests."""

from tests.app.conftest import (  # noqa: F401 (fixtures, found by name)
    admin,
    annotator,
    app_db,
    app_db_any,
    browser_on_this_computer,
    cheap_password_hashing,
    clear_streamlit_caches,
    password_sign_in,
)
