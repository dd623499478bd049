{#- Apache with mod_wsgi in daemon mode (wsgi:server mod_wsgi): Apache serves the
    app, the static files and the uploads itself; Nginx is stopped. #}
include:
  - .package
  - .config
  - .service
