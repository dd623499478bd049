# Roles are assigned here, by minion id, never by grains (a minion sets its own
# grains; grains must not decide who receives a database password).
base:
  # one server with the whole stack
  'single*':
    - webstack.single
    - webstack.secrets
