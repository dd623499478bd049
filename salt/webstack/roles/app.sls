{#- Role app: Nginx in front of the WSGI server, the app's releases. Migrations
    run on the first app node only (orch.deploy runs them before any switch). #}
include:
  - webstack.validate
  - webstack.supervisor
  - webstack.nginx
  - webstack.app
