{#- Role single: the whole small-project stack on one server. States run in
    include order: validation, database, cache, process manager, web server,
    the app and its WSGI server, then the worker. #}
include:
  - webstack.validate
  - webstack.postgres
  - webstack.redis
  - webstack.supervisor
  - webstack.nginx
  - webstack.app
  - webstack.celery
