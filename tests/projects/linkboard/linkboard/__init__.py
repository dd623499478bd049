import click
from flask import Flask, redirect, render_template, request, url_for
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Link(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    url = db.Column(db.String(2000), nullable=False)
    title = db.Column(db.String(200), nullable=False)


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev", SQLALCHEMY_DATABASE_URI="sqlite:///linkboard.db")
    if test_config is None:
        # FLASK_SECRET_KEY, FLASK_SQLALCHEMY_DATABASE_URI, ...
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)

    db.init_app(app)

    @app.route("/", methods=["GET", "POST"])
    def index():
        if request.method == "POST":
            db.session.add(Link(url=request.form["url"], title=request.form["title"]))
            db.session.commit()
            return redirect(url_for("index"))
        links = db.session.execute(db.select(Link).order_by(Link.id.desc())).scalars().all()
        return render_template("index.html", links=links)

    @app.cli.command("init-db")
    def init_db():
        """Create the tables that do not exist yet."""
        db.create_all()
        click.echo("Initialized the database.")

    return app
