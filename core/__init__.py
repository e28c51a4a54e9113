"""Pure domain logic of Docket: no Streamlit, no database sessions."""

# The version exports record in their metadata; bump it with a release.
DOCKET_VERSION = "0.5.0"
