include:
  - .service
