include:
  - .package
  - .config
  - .service
  - .database
