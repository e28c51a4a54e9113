"""Users page (admins): add users, set passwords, change roles, activate and deactivate."""

from components.layout import page_setup
from components.users_view import render_users

context = page_setup("Users", role="admin")
render_users(context.db)
