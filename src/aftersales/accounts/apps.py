from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "aftersales.accounts"
    label = "accounts"
    verbose_name = "Staff and access"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        def sync_roles(sender: AppConfig, **kwargs: object) -> None:
            # Permissions of every app exist only once the last app has migrated.
            with_models = [a for a in apps.get_app_configs() if a.models_module is not None]
            if sender.label == with_models[-1].label:
                from .services import roles_sync

                roles_sync()

        post_migrate.connect(sync_roles, dispatch_uid="aftersales_roles_sync", weak=False)

        from django.contrib.auth.signals import user_logged_in

        from .sessions import session_signed_in

        user_logged_in.connect(session_signed_in, dispatch_uid="aftersales_session_signed_in")
