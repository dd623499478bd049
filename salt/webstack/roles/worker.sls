{#- Role worker: the app's releases and its task queue's worker (Celery or RQ), no web server. #}
include:
  - webstack.validate
  - webstack.app.package
  - webstack.app.user
  - webstack.app.config
  - webstack.app.release
  - webstack.celery
  - webstack.rq
