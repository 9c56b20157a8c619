export { createWebhookNotifier, webhookSignature, type WebhookNotifierOptions } from './webhook-notifier';
