{#- Role single: the whole small-project stack on one server. States run in
    include order: validation, database, cache, the app with its WSGI server and
    web server (and their process manager), then the worker. #}
include:
  - webstack.validate
  - webstack.postgres
  - webstack.redis
  - webstack.app
  - webstack.celery
