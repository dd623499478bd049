include:
  - .package
  - .service
