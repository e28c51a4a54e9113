"""Plotly figures and tables of agreement results (no Streamlit): the dashboard and the
exported HTML report draw the same charts from the same code."""
