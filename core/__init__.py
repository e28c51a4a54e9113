"""Pure domain logic of Docket: no Streamlit, no database sessions."""
