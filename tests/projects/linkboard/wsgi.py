from linkboard import create_app

app = create_app()
