{#- Role app: the app's releases, served by its WSGI server behind Nginx (or by
    Apache with mod_wsgi). Migrations run on the first app node only (orch.deploy
    runs them before any switch). #}
include:
  - webstack.validate
  - webstack.app
