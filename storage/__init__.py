"""Persistence of Docket: SQLModel tables, sessions, repositories, bulk import. No Streamlit."""
