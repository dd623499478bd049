{#- Role worker: the app's releases and its Celery worker, no web server. #}
include:
  - webstack.validate
  - webstack.app.package
  - webstack.app.user
  - webstack.app.config
  - webstack.app.release
  - webstack.celery
