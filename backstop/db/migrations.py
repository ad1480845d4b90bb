"""The ordered, append-only schema history. Never edit a step that has shipped: add a new one.

Names are ``NNNN_verb_noun``. Money is integer minor units plus a currency; times are UTC
ISO-8601 text from ``backstop.clock.iso``.
"""

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("backstop")


@migrations(name="0001_create_admins_and_workspaces")
def create_admins_and_workspaces(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE admins (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_login_at TEXT
        );
        CREATE TABLE admin_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            user_agent TEXT
        );
        CREATE INDEX admin_sessions_admin ON admin_sessions(admin_id);
        CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL COLLATE NOCASE,
            ip TEXT NOT NULL,
            attempted_at TEXT NOT NULL,
            succeeded INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX login_attempts_email ON login_attempts(email, attempted_at);
        CREATE INDEX login_attempts_ip ON login_attempts(ip, attempted_at);
        CREATE TABLE workspaces (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            embed_secret_enc TEXT NOT NULL,
            embed_secret_rotated_at TEXT,
            embed_step_done_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE workspace_members (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
            created_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, admin_id)
        );
        CREATE INDEX workspace_members_admin ON workspace_members(admin_id);
        """
    )


@migrations(name="0002_create_api_tokens")
def create_api_tokens(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_by INTEGER REFERENCES admins(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE INDEX api_tokens_workspace ON api_tokens(workspace_id);
        """
    )


@migrations(name="0003_create_login_tokens")
def create_login_tokens(db: Database) -> None:
    # One-time sign-in links for the desktop window: only a hash is kept, each row is used once.
    db.executescript(
        """
        CREATE TABLE login_tokens (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX login_tokens_expires ON login_tokens(expires_at);
        """
    )


@migrations(name="0004_create_email_tables")
def create_email_tables(db: Database) -> None:
    # Every email is a row before it is a message: rendered content, who it is for, and the
    # work-row columns the send job claims. ``work_state = 'held'`` keeps a blocked message out
    # of the sweeper until its send domain verifies or is removed.
    db.executescript(
        """
        CREATE TABLE email_messages (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('transactional', 'marketing')),
            dedupe_key TEXT,
            customer_id TEXT,
            to_email TEXT NOT NULL,
            to_name TEXT,
            subject TEXT NOT NULL,
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            unsubscribe_url TEXT NOT NULL,
            from_header TEXT,
            reply_to TEXT,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
                ('queued', 'sent', 'blocked', 'failed', 'suppressed', 'bounced', 'complained')),
            status_reason TEXT,
            transport TEXT,
            provider_message_id TEXT,
            handoff_at TEXT,
            sent_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            work_state TEXT NOT NULL DEFAULT 'pending',
            due_at TEXT NOT NULL,
            claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            UNIQUE (workspace_id, dedupe_key)
        );
        CREATE INDEX email_messages_work ON email_messages(work_state, due_at);
        CREATE INDEX email_messages_log ON email_messages(workspace_id, id);
        CREATE INDEX email_messages_provider ON email_messages(provider_message_id);
        CREATE TABLE email_suppressions (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            email TEXT NOT NULL COLLATE NOCASE,
            unsubscribed_at TEXT,
            bounced_at TEXT,
            bounce_detail TEXT,
            complained_at TEXT,
            PRIMARY KEY (workspace_id, email)
        );
        CREATE TABLE send_domains (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL UNIQUE REFERENCES workspaces(id) ON DELETE CASCADE,
            domain TEXT NOT NULL UNIQUE COLLATE NOCASE,
            from_local TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'failed')),
            dkim_tokens TEXT NOT NULL,
            last_check TEXT,
            checked_at TEXT,
            verified_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE email_branding (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            from_name TEXT,
            reply_to TEXT,
            brand_color TEXT NOT NULL DEFAULT '#3b5bdb',
            footer TEXT,
            theme TEXT NOT NULL DEFAULT 'auto' CHECK (theme IN ('light', 'dark', 'auto')),
            logo BLOB,
            logo_type TEXT,
            logo_sha TEXT UNIQUE,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE ses_notifications (
            message_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            topic_arn TEXT,
            outcome TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0005_create_stripe_mirror")
def create_stripe_mirror(db: Database) -> None:
    # Work-row columns spelled out: a migration must not change when shared code does.
    work = (
        "work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT, "
        "attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT"
    )
    db.executescript(
        f"""
        CREATE TABLE stripe_connections (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL UNIQUE REFERENCES workspaces(id) ON DELETE CASCADE,
            method TEXT NOT NULL CHECK (method IN ('oauth', 'restricted_key')),
            account_id TEXT,
            account_name TEXT,
            livemode INTEGER NOT NULL,
            scope TEXT,
            api_key_enc TEXT,
            webhook_secret_enc TEXT,
            webhook_endpoint_id TEXT,
            status TEXT NOT NULL CHECK (status IN ('live', 'revoked', 'failing')),
            status_reason TEXT,
            polling INTEGER NOT NULL DEFAULT 0,
            events_cursor TEXT,
            last_polled_at TEXT,
            last_event_at TEXT,
            connected_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX stripe_connections_account ON stripe_connections(account_id, livemode)
            WHERE account_id IS NOT NULL;
        CREATE TABLE stripe_oauth_states (
            nonce TEXT PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE TABLE stripe_events (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            object_id TEXT,
            created INTEGER NOT NULL,
            livemode INTEGER NOT NULL,
            payload TEXT NOT NULL,
            source TEXT NOT NULL,
            received_at TEXT NOT NULL,
            outcome TEXT,
            processed_at TEXT,
            {work},
            UNIQUE (workspace_id, event_id)
        );
        CREATE INDEX stripe_events_work ON stripe_events(work_state, due_at);
        CREATE INDEX stripe_events_ws_created ON stripe_events(workspace_id, created);
        CREATE TABLE stripe_backfills (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL UNIQUE REFERENCES workspaces(id) ON DELETE CASCADE,
            stage TEXT NOT NULL,
            cursor TEXT,
            counts TEXT NOT NULL DEFAULT '{{}}',
            started_at TEXT NOT NULL,
            finished_at TEXT,
            {work}
        );
        CREATE INDEX stripe_backfills_work ON stripe_backfills(work_state, due_at);
        CREATE TABLE stripe_customers (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, email TEXT COLLATE NOCASE, name TEXT, currency TEXT,
            delinquent INTEGER NOT NULL DEFAULT 0, default_payment_method TEXT, default_source TEXT,
            metadata TEXT, created INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE INDEX stripe_customers_email ON stripe_customers(workspace_id, email);
        CREATE TABLE stripe_payment_methods (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, customer_id TEXT, type TEXT, card_brand TEXT, card_last4 TEXT,
            card_exp_month INTEGER, card_exp_year INTEGER, created INTEGER,
            version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE INDEX stripe_payment_methods_customer ON stripe_payment_methods(workspace_id, customer_id);
        CREATE TABLE stripe_products (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, name TEXT, active INTEGER NOT NULL DEFAULT 1, deleted INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE TABLE stripe_prices (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, product_id TEXT, currency TEXT, unit_amount INTEGER, interval TEXT,
            interval_count INTEGER, nickname TEXT, active INTEGER NOT NULL DEFAULT 1,
            deleted INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE TABLE stripe_subscriptions (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, customer_id TEXT, status TEXT, item_id TEXT, price_id TEXT, product_id TEXT,
            quantity INTEGER, currency TEXT, mrr INTEGER NOT NULL DEFAULT 0,
            current_period_start INTEGER, current_period_end INTEGER,
            cancel_at_period_end INTEGER NOT NULL DEFAULT 0, cancel_at INTEGER, canceled_at INTEGER,
            ended_at INTEGER, trial_end INTEGER, pause_collection TEXT, coupon_id TEXT,
            default_payment_method TEXT, latest_invoice TEXT, collection_method TEXT, created INTEGER,
            version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE INDEX stripe_subscriptions_customer ON stripe_subscriptions(workspace_id, customer_id);
        CREATE INDEX stripe_subscriptions_status ON stripe_subscriptions(workspace_id, status);
        CREATE TABLE stripe_invoices (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            id TEXT NOT NULL, customer_id TEXT, subscription_id TEXT, status TEXT, number TEXT,
            billing_reason TEXT, collection_method TEXT, currency TEXT, amount_due INTEGER,
            amount_paid INTEGER, amount_remaining INTEGER, attempt_count INTEGER,
            attempted INTEGER NOT NULL DEFAULT 0, next_payment_attempt INTEGER,
            auto_advance INTEGER NOT NULL DEFAULT 0, hosted_invoice_url TEXT, period_start INTEGER,
            period_end INTEGER, paid_at INTEGER, voided_at INTEGER, created INTEGER,
            deleted INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL, synced_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, id)
        );
        CREATE INDEX stripe_invoices_customer ON stripe_invoices(workspace_id, customer_id);
        CREATE INDEX stripe_invoices_subscription ON stripe_invoices(workspace_id, subscription_id);
        CREATE TABLE stripe_invoice_lines (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            invoice_id TEXT NOT NULL, id TEXT NOT NULL, position INTEGER NOT NULL, description TEXT,
            amount INTEGER, currency TEXT, quantity INTEGER, price_id TEXT, period_start INTEGER,
            period_end INTEGER,
            PRIMARY KEY (workspace_id, invoice_id, id)
        );
        """
    )


@migrations(name="0006_create_recovery_tables")
def create_recovery_tables(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE recovery_settings (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            policy TEXT NOT NULL,
            paused_at TEXT,
            paused_by TEXT,
            winback_days INTEGER NOT NULL DEFAULT 14,
            winback_coupon TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            invoice_id TEXT NOT NULL,
            customer_id TEXT,
            subscription_id TEXT,
            customer_email TEXT,
            customer_name TEXT,
            amount_due INTEGER NOT NULL,
            currency TEXT NOT NULL,
            decline_code TEXT,
            advice_code TEXT,
            decline_class TEXT NOT NULL DEFAULT 'soft',
            stripe_attempts INTEGER NOT NULL DEFAULT 0,
            our_attempts INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'in_flight'
                CHECK (status IN ('in_flight', 'recovered', 'lost', 'abandoned')),
            close_reason TEXT,
            took_over INTEGER NOT NULL DEFAULT 0,
            first_failed_at TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            UNIQUE (workspace_id, invoice_id)
        );
        CREATE INDEX campaigns_status ON campaigns(workspace_id, status, opened_at);
        CREATE INDEX campaigns_closed ON campaigns(workspace_id, closed_at);
        CREATE INDEX campaigns_customer ON campaigns(workspace_id, customer_id);
        CREATE TABLE campaign_events (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX campaign_events_campaign ON campaign_events(campaign_id, id);
        CREATE TABLE recovery_steps (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('takeover', 'retry', 'dunning', 'terminal')),
            seq INTEGER NOT NULL,
            trigger TEXT NOT NULL DEFAULT 'schedule',
            status TEXT NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'done', 'skipped', 'canceled', 'failed')),
            outcome TEXT,
            work_state TEXT NOT NULL DEFAULT 'pending',
            due_at TEXT NOT NULL,
            claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            UNIQUE (campaign_id, kind, seq)
        );
        CREATE INDEX recovery_steps_work ON recovery_steps(work_state, due_at);
        CREATE INDEX recovery_steps_campaign ON recovery_steps(campaign_id);
        CREATE TABLE payment_attempts (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
            attempt_number INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            trigger TEXT NOT NULL,
            attempted_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('succeeded', 'declined', 'error')),
            decline_code TEXT,
            message TEXT
        );
        CREATE INDEX payment_attempts_campaign ON payment_attempts(campaign_id);
        """
    )


@migrations(name="0007_add_publishable_key_and_winbacks")
def add_publishable_key_and_winbacks(db: Database) -> None:
    # Stripe.js needs a publishable key in the customer's browser to take a new card; a
    # restricted-key workspace pastes it beside its key (Connect OAuth uses the platform's).
    db.executescript(
        """
        ALTER TABLE stripe_connections ADD COLUMN publishable_key TEXT;
        CREATE TABLE winbacks (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            subscription_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            customer_email TEXT,
            customer_name TEXT,
            price_id TEXT,
            plan_name TEXT,
            amount INTEGER,
            currency TEXT,
            ended_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'sent', 'skipped', 'restarted')),
            outcome TEXT,
            email_message_id INTEGER,
            new_subscription_id TEXT,
            restarted_at TEXT,
            created_at TEXT NOT NULL,
            work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            UNIQUE (workspace_id, subscription_id)
        );
        CREATE INDEX winbacks_work ON winbacks(work_state, due_at);
        CREATE INDEX winbacks_customer ON winbacks(workspace_id, customer_id);
        """
    )


@migrations(name="0008_create_dunning_copy")
def create_dunning_copy(db: Database) -> None:
    """A workspace's own words for each dunning email: a subject line and an opening paragraph
    that replace the defaults. Missing rows or empty values keep the defaults."""
    db.executescript(
        """
        CREATE TABLE dunning_copy (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            step INTEGER NOT NULL CHECK (step BETWEEN 1 AND 4),
            subject TEXT,
            intro TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, step)
        );
        """
    )


@migrations(name="0011_create_cancel_flows")
def create_cancel_flows(db: Database) -> None:
    """Cancel flows: an editable draft per flow, immutable published versions that share the
    traffic, a workspace's offer policy, and publish requests waiting for an owner's approval."""
    db.executescript(
        """
        CREATE TABLE cancel_flows (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            template TEXT,
            draft_json TEXT NOT NULL,
            draft_updated_at TEXT NOT NULL,
            holdout_percent INTEGER NOT NULL DEFAULT 0
                CHECK (holdout_percent BETWEEN 0 AND 100),
            is_active INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
            created_at TEXT NOT NULL,
            archived_at TEXT
        );
        CREATE INDEX cancel_flows_workspace ON cancel_flows(workspace_id);
        CREATE UNIQUE INDEX cancel_flows_one_active ON cancel_flows(workspace_id) WHERE is_active = 1;
        CREATE TABLE cancel_flow_versions (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            flow_id INTEGER NOT NULL REFERENCES cancel_flows(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            document_json TEXT NOT NULL,
            traffic_percent INTEGER NOT NULL DEFAULT 0 CHECK (traffic_percent BETWEEN 0 AND 100),
            published_at TEXT NOT NULL,
            published_by INTEGER REFERENCES admins(id) ON DELETE SET NULL,
            UNIQUE (flow_id, version)
        );
        CREATE INDEX cancel_flow_versions_workspace ON cancel_flow_versions(workspace_id, flow_id);
        CREATE TABLE cancel_offer_policies (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            cooldown_days INTEGER NOT NULL DEFAULT 90 CHECK (cooldown_days BETWEEN 0 AND 3650),
            max_percent_off INTEGER CHECK (max_percent_off BETWEEN 1 AND 100),
            max_free_months INTEGER CHECK (max_free_months BETWEEN 0 AND 12),
            max_value_amount INTEGER CHECK (max_value_amount >= 0),
            max_value_currency TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE cancel_flow_approvals (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            flow_id INTEGER NOT NULL REFERENCES cancel_flows(id) ON DELETE CASCADE,
            document_json TEXT NOT NULL,
            reasons_json TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
            requested_by INTEGER REFERENCES admins(id) ON DELETE SET NULL,
            requested_at TEXT NOT NULL,
            decided_by INTEGER REFERENCES admins(id) ON DELETE SET NULL,
            decided_at TEXT,
            version_id INTEGER REFERENCES cancel_flow_versions(id) ON DELETE SET NULL
        );
        CREATE INDEX cancel_flow_approvals_pending ON cancel_flow_approvals(workspace_id, status);
        """
    )


@migrations(name="0012_create_cancel_sessions")
def create_cancel_sessions(db: Database) -> None:
    """The customer-facing half of cancel flows: single-use embed tokens, one row per cancel
    session (what the customer saw, chose, and what it was worth), and the Stripe action that
    carries the outcome out, as a work row written in the same transaction as the choice."""
    db.executescript(
        """
        CREATE TABLE embed_token_uses (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            jti TEXT NOT NULL,
            used_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, jti)
        );
        CREATE INDEX embed_token_uses_expiry ON embed_token_uses(expires_at);
        CREATE TABLE cancel_sessions (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            key_hash TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            customer_email TEXT,
            customer_name TEXT,
            subscription_id TEXT,
            flow_id INTEGER,
            version_id INTEGER,
            version INTEGER,
            arm TEXT NOT NULL,
            skip_offers TEXT,
            step TEXT,
            path TEXT NOT NULL DEFAULT '[]',
            variants TEXT NOT NULL DEFAULT '{}',
            reason_code TEXT,
            reason_label TEXT,
            free_text TEXT,
            offers_shown TEXT NOT NULL DEFAULT '[]',
            offer_accepted TEXT,
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'pending_action', 'finished')),
            outcome TEXT CHECK (outcome IN ('saved_discount', 'saved_pause', 'saved_downgrade',
                'saved_other', 'canceled', 'abandoned')),
            currency TEXT,
            mrr_at_stake INTEGER NOT NULL DEFAULT 0,
            mrr_saved INTEGER NOT NULL DEFAULT 0,
            return_url TEXT,
            opened_at TEXT NOT NULL,
            decided_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX cancel_sessions_ws ON cancel_sessions(workspace_id, id);
        CREATE INDEX cancel_sessions_open ON cancel_sessions(state, opened_at);
        CREATE INDEX cancel_sessions_customer ON cancel_sessions(workspace_id, customer_id);
        CREATE TABLE cancel_actions (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            session_id INTEGER NOT NULL UNIQUE REFERENCES cancel_sessions(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            params TEXT NOT NULL,
            result TEXT,
            created_at TEXT NOT NULL,
            done_at TEXT,
            work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
        );
        CREATE INDEX cancel_actions_work ON cancel_actions(work_state, due_at);
        """
    )


@migrations(name="0013_create_embed_tables")
def create_embed_tables(db: Database) -> None:
    """What the founder's site needs from Backstop: the origins allowed to frame hosted pages,
    the Failed Payment Wall's behaviour, the portal's and the wall's opaque sessions, and a
    portal domain per workspace."""
    db.executescript(
        """
        CREATE TABLE embed_origins (
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            origin TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (workspace_id, origin)
        );
        CREATE TABLE embed_settings (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            wall_mode TEXT NOT NULL DEFAULT 'dismissible' CHECK (wall_mode IN ('dismissible', 'blocking')),
            wall_grace_days INTEGER NOT NULL DEFAULT 0 CHECK (wall_grace_days BETWEEN 0 AND 60),
            first_session_at TEXT,
            portal_cancel_enabled INTEGER,
            portal_checked_at TEXT,
            portal_check_error TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE hosted_sessions (
            key_hash TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('portal', 'wall')),
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            customer_id TEXT NOT NULL,
            subscription_id TEXT,
            campaign_id INTEGER,
            invoice_id TEXT,
            return_url TEXT,
            form_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX hosted_sessions_customer ON hosted_sessions(workspace_id, customer_id);
        CREATE INDEX IF NOT EXISTS campaigns_customer ON campaigns(workspace_id, customer_id, status);
        ALTER TABLE stripe_invoices ADD COLUMN invoice_pdf TEXT;
        CREATE TABLE portal_domains (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            host TEXT NOT NULL UNIQUE,
            verify_token TEXT NOT NULL,
            verified_at TEXT,
            last_checked_at TEXT,
            last_result TEXT,
            created_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0014_create_outbound_webhooks")
def create_outbound_webhooks(db: Database) -> None:
    """Outbound webhooks: a workspace's endpoints (signing secrets encrypted), the local event log
    (an outbox written in the transaction of the change), one delivery work row per (event,
    endpoint) and every attempt made for it."""
    db.executescript(
        """
        CREATE TABLE webhook_endpoints (
            id INTEGER PRIMARY KEY,
            public_id TEXT NOT NULL UNIQUE,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            description TEXT,
            events TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            secret_enc TEXT NOT NULL,
            previous_secret_enc TEXT,
            previous_secret_expires_at TEXT,
            failing_since TEXT,
            disabled_at TEXT,
            disabled_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints(workspace_id);
        CREATE TABLE webhook_events (
            id INTEGER PRIMARY KEY,
            public_id TEXT NOT NULL UNIQUE,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            livemode INTEGER NOT NULL DEFAULT 0,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX webhook_events_workspace ON webhook_events(workspace_id, created_at);
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
            endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
            reason TEXT NOT NULL DEFAULT 'event'
                CHECK (reason IN ('event', 'test', 'redeliver', 'replay')),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'delivered', 'failed', 'canceled')),
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
        );
        CREATE INDEX webhook_deliveries_work ON webhook_deliveries(work_state, due_at);
        CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
        CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
        CREATE TABLE webhook_attempts (
            id INTEGER PRIMARY KEY,
            delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
            endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            attempted_at TEXT NOT NULL,
            request_headers TEXT NOT NULL,
            request_body TEXT NOT NULL,
            response_status INTEGER,
            response_excerpt TEXT,
            error TEXT,
            latency_ms INTEGER
        );
        CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
        CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
        """
    )


@migrations(name="0015_split_retry_rules_and_hold_sends")
def split_retry_rules_and_hold_sends(db: Database) -> None:
    """Three things recovery needs:

    - retry rules per decline class (retries, gaps, end action): a saved policy's one soft
      schedule, hard-retry count and end action become the soft and hard classes' rules, and the
      never-retry class keeps no retries with the same end action;
    - ``email_holds``: a workspace whose customer email is held (recovery paused); its queued mail
      waits with ``work_state = 'held'`` until the hold is lifted. A workspace paused now is held;
    - ``winbacks.coupon_id``: the single-use coupon made for the customer, so a second click on
      "Restart" reuses it.
    """
    import json

    for workspace_id, raw in db.execute("SELECT workspace_id, policy FROM recovery_settings").fetchall():
        data = json.loads(raw) if raw else {}
        if "rules" in data:
            continue
        action = data.get("terminal_action", "cancel")
        soft = list(data.get("soft_gaps_days") or [3, 5, 7])
        hard_retries = int(data.get("hard_retries", 1))
        hard_gap = int(data.get("hard_gap_days", 3))
        data["rules"] = {
            "soft": {"retries": len(soft), "gaps_days": soft, "terminal_action": action},
            "hard": {"retries": hard_retries, "gaps_days": [hard_gap], "terminal_action": action},
            "never": {"retries": 0, "gaps_days": [], "terminal_action": action},
        }
        for old in ("soft_gaps_days", "hard_retries", "hard_gap_days", "terminal_action"):
            data.pop(old, None)
        db.execute(
            "UPDATE recovery_settings SET policy = ? WHERE workspace_id = ?",
            [json.dumps(data, sort_keys=True), workspace_id],
        )
    db.executescript(
        """
        CREATE TABLE email_holds (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            since TEXT NOT NULL
        );
        INSERT INTO email_holds (workspace_id, reason, since)
            SELECT workspace_id, 'Recovery is paused: this email goes out when recovery is resumed.',
                paused_at FROM recovery_settings WHERE paused_at IS NOT NULL;
        ALTER TABLE winbacks ADD COLUMN coupon_id TEXT;
        """
    )


@migrations(name="0016_add_dunning_holdout")
def add_dunning_holdout(db: Database) -> None:
    """The dunning holdout: a share of new campaigns gets retries but no dunning emails, so the
    Recovery results can show what the emails are worth.

    - ``recovery_settings.holdout_percent``: the share (1 to 50) held out; NULL while the holdout is
      off, the default;
    - ``campaigns.dunning_holdout``: decided once when the campaign opens and never changed.
      NULL for a campaign opened while the holdout was off (it is in neither arm), 0 for one that
      gets the emails, 1 for one held out.
    """
    db.executescript(
        """
        ALTER TABLE recovery_settings ADD COLUMN holdout_percent INTEGER
            CHECK (holdout_percent IS NULL OR holdout_percent BETWEEN 1 AND 50);
        ALTER TABLE campaigns ADD COLUMN dunning_holdout INTEGER CHECK (dunning_holdout IN (0, 1));
        CREATE INDEX campaigns_holdout ON campaigns (workspace_id, dunning_holdout, status);
        """
    )


@migrations(name="0017_create_weekly_summaries")
def create_weekly_summaries(db: Database) -> None:
    """The founder's weekly summary email: whether a workspace wants it (off until an owner turns
    it on), and one work row per workspace and week, so a restart or a second worker never sends a
    week twice (``UNIQUE (workspace_id, week)``)."""
    db.executescript(
        """
        CREATE TABLE notification_settings (
            workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
            weekly_summary INTEGER NOT NULL DEFAULT 0 CHECK (weekly_summary IN (0, 1)),
            updated_at TEXT NOT NULL
        );
        CREATE TABLE weekly_summaries (
            id INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
            week TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'sent', 'skipped')),
            recipients INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            work_state TEXT NOT NULL DEFAULT 'pending', due_at TEXT NOT NULL, claimed_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            UNIQUE (workspace_id, week)
        );
        CREATE INDEX weekly_summaries_work ON weekly_summaries(work_state, due_at);
        """
    )


@migrations(name="0018_create_backfill_ranges")
def create_backfill_ranges(db: Database) -> None:
    """A backfill reads its lists side by side, big lists split into ``created`` ranges:

    - ``stripe_backfill_ranges``: one row per list or slice of a list, with its ``created`` bounds,
      the cursor of the last page applied (and that object's ``created``), how many objects it
      returned and the ``created`` of its first; a page and its range's cursor commit together;
    - ``stripe_backfills.plan``: what was learnt about each list (the oldest ``created`` bound);
    - ``stripe_backfills.holder``/``holder_since``: the process running it (``pid@host``), so a
      second sync can say who holds it, and a dead holder on this host can be taken over.

    A backfill left unfinished under the old one-list-at-a-time layout resumes where it was: its
    current list continues from its cursor, the lists after it start fresh.
    """
    import time

    db.executescript(
        """
        CREATE TABLE stripe_backfill_ranges (
            id INTEGER PRIMARY KEY,
            backfill_id INTEGER NOT NULL REFERENCES stripe_backfills(id) ON DELETE CASCADE,
            stage TEXT NOT NULL,
            created_gte INTEGER,
            created_lt INTEGER,
            cursor TEXT,
            cursor_created INTEGER,
            newest INTEGER,
            fetched INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX stripe_backfill_ranges_backfill ON stripe_backfill_ranges(backfill_id, done);
        ALTER TABLE stripe_backfills ADD COLUMN plan TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE stripe_backfills ADD COLUMN holder TEXT;
        ALTER TABLE stripe_backfills ADD COLUMN holder_since TEXT;
        """
    )
    order = [
        "products",
        "prices",
        "customers",
        "subscriptions",
        "invoices_open",
        "invoices_uncollectible",
        "invoices_paid",
    ]
    recent_paid = int(time.time()) - 90 * 86400  # the paid invoices a backfill reads: the last 90 days
    rows = db.execute("SELECT id, stage, cursor FROM stripe_backfills WHERE finished_at IS NULL").fetchall()
    for row_id, stage, cursor in rows:
        if stage not in order:
            continue
        for key in order[order.index(stage) :]:
            db.execute(
                "INSERT INTO stripe_backfill_ranges (backfill_id, stage, created_gte, cursor) VALUES (?, ?, ?, ?)",
                [
                    row_id,
                    key,
                    recent_paid if key == "invoices_paid" else None,
                    cursor if key == stage else None,
                ],
            )


@migrations(name="0023_index_stripe_events_by_type")
def index_stripe_events_by_type(db: Database) -> None:
    """The policy backtest reads one kind of Stripe event over a period (payment failures, default
    card changes); without this index it would read every event of the period."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS stripe_events_ws_type_created ON stripe_events(workspace_id, type, created)"
    )


@migrations(name="0024_drop_stripe_events_ws_created_index")
def drop_stripe_events_ws_created_index(db: Database) -> None:
    """Every webhook pays for each index on stripe_events when its row is written. This one
    served only `backstop stripe replay --since`, a rare command, which reads a workspace's events
    through the index by type (0023) just as well."""
    db.execute("DROP INDEX IF EXISTS stripe_events_ws_created")
