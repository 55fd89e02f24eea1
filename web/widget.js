/*
 * widget.js: the customer-facing chat widget (docs/CHAT.md). A site owner
 * pastes one tag on any site:
 *
 *   <script src="https://HOTLINE/widget.js" data-queue="sales" async></script>
 *
 * and a chat button appears. This is a classic script (no module, no
 * dependencies): it finds its own <script> element for data-queue and the
 * server's origin, and draws everything inside a Shadow DOM with its own
 * style sheet, so the host page's CSS neither leaks in nor out.
 *
 * Safety: every piece of text that comes from the server (agent messages,
 * names, topics, file names) is inserted with textContent; no HTML is ever
 * parsed and no link is made from message text.
 *
 * Delivery (docs/CHAT.md, "Widget WebSocket frames"): each message gets a
 * client_id and stays in an outbox, shown as "sending", until the server's
 * message frame with that client_id comes back (the acknowledgement). A
 * dropped connection is retried with backoff (0.5 s doubling to 10 s); on
 * reconnection the widget sends resume {token, after: highest seq seen} and
 * then every unacknowledged message again with its same client_id. Messages
 * are kept in seq order and de-duplicated by seq and client_id. The token,
 * the messages and the outbox live in sessionStorage (one entry per server
 * origin), so a reload resumes the chat.
 *
 * The widget's own strings for en, sv, de, hu and lt are in STRINGS below
 * (tests/blackbox/i18n.test.mjs checks that the five tables agree). This
 * file is pure ASCII (other letters are written \uXXXX): a host page in
 * another encoding loads it with its own charset, which would garble UTF-8.
 */
(function () {
  'use strict';

  var STRINGS = {
    en: {
      launcher: 'Chat with us',
      launcher_unread: 'Chat with us ({count} new)',
      title: 'Chat',
      close: 'Close the chat window',
      language: 'Language',
      loading: 'Loading\u2026',
      unavailable: 'The chat is not available right now. Please try again later.',
      retry: 'Try again',
      prechat_title: 'Start a chat',
      prechat_intro: 'Tell us your name and what it is about, and we will connect you with someone.',
      offline_title: 'Leave us a message',
      offline_closed: 'We are closed right now. Leave a message and we will get back to you.',
      offline_busy: 'No one is available right now. Leave a message and we will get back to you.',
      name: 'Your name',
      email: 'Email (optional)',
      topic: 'Topic',
      message: 'Message',
      start: 'Start chat',
      send_message: 'Send message',
      error_name: 'Please enter your name.',
      error_email: 'Please enter a valid email address.',
      error_message: 'Please write a message.',
      error_too_long: 'This message is too long.',
      error_generic: 'Something went wrong. Please try again.',
      expired: 'Your earlier chat is no longer available. You can start a new one.',
      connecting: 'Connecting\u2026',
      reconnecting: 'Connection lost. Reconnecting\u2026',
      waiting: 'Waiting for someone to answer\u2026',
      waiting_position: 'Waiting for someone to answer. You are number {position} in line.',
      offline_sent: 'Thank you! We have received your message and will get back to you here.',
      chatting_with: 'You are chatting with {name}.',
      ended: 'The chat has ended.',
      you: 'You',
      agent: 'Agent',
      typing: '{name} is typing\u2026',
      sending: 'Sending\u2026',
      sent: 'Sent',
      read: 'Read',
      not_sent: 'Not sent',
      compose: 'Write a message',
      send: 'Send',
      attach: 'Attach an image or PDF',
      uploading: 'Sending {name}\u2026',
      upload_failed: 'Could not send {name}.',
      file_too_large: '{name} is too large (the limit is {size} MB).',
      file_type: '{name} cannot be sent: only images (PNG, JPEG, GIF, WebP) and PDF files are allowed.',
      download: 'Download {name}',
      open_image: 'Open {name}',
      transcript: 'Download transcript',
      transcript_failed: 'Could not download the transcript.',
      end: 'End chat',
      rate_title: 'How was this chat?',
      rate_star: '{n} of 5 stars',
      rate_comment: 'Comment (optional)',
      rate_submit: 'Send rating',
      rate_pick: 'Please choose from 1 to 5 stars.',
      rated: 'Thank you for your feedback!',
      new_chat: 'Start a new chat',
      messages: 'Messages',
      rate_limited: 'You are sending messages too quickly. Please wait a moment.',
    },
    sv: {
      launcher: 'Chatta med oss',
      launcher_unread: 'Chatta med oss ({count} nya)',
      title: 'Chatt',
      close: 'St\u00e4ng chattf\u00f6nstret',
      language: 'Spr\u00e5k',
      loading: 'Laddar\u2026',
      unavailable: 'Chatten \u00e4r inte tillg\u00e4nglig just nu. F\u00f6rs\u00f6k igen senare.',
      retry: 'F\u00f6rs\u00f6k igen',
      prechat_title: 'Starta en chatt',
      prechat_intro: 'Ber\u00e4tta vad du heter och vad det g\u00e4ller, s\u00e5 kopplar vi dig till n\u00e5gon.',
      offline_title: 'L\u00e4mna ett meddelande',
      offline_closed: 'Vi har st\u00e4ngt just nu. L\u00e4mna ett meddelande s\u00e5 \u00e5terkommer vi till dig.',
      offline_busy: 'Ingen \u00e4r tillg\u00e4nglig just nu. L\u00e4mna ett meddelande s\u00e5 \u00e5terkommer vi till dig.',
      name: 'Ditt namn',
      email: 'E-post (valfritt)',
      topic: '\u00c4mne',
      message: 'Meddelande',
      start: 'Starta chatten',
      send_message: 'Skicka meddelandet',
      error_name: 'Ange ditt namn.',
      error_email: 'Ange en giltig e-postadress.',
      error_message: 'Skriv ett meddelande.',
      error_too_long: 'Meddelandet \u00e4r f\u00f6r l\u00e5ngt.',
      error_generic: 'N\u00e5got gick fel. F\u00f6rs\u00f6k igen.',
      expired: 'Din tidigare chatt finns inte l\u00e4ngre. Du kan starta en ny.',
      connecting: 'Ansluter\u2026',
      reconnecting: 'Anslutningen br\u00f6ts. Ansluter igen\u2026',
      waiting: 'V\u00e4ntar p\u00e5 svar\u2026',
      waiting_position: 'V\u00e4ntar p\u00e5 svar. Du \u00e4r nummer {position} i k\u00f6n.',
      offline_sent: 'Tack! Vi har f\u00e5tt ditt meddelande och svarar dig h\u00e4r.',
      chatting_with: 'Du chattar med {name}.',
      ended: 'Chatten har avslutats.',
      you: 'Du',
      agent: 'Handl\u00e4ggare',
      typing: '{name} skriver\u2026',
      sending: 'Skickar\u2026',
      sent: 'Skickat',
      read: 'L\u00e4st',
      not_sent: 'Inte skickat',
      compose: 'Skriv ett meddelande',
      send: 'Skicka',
      attach: 'Bifoga en bild eller PDF',
      uploading: 'Skickar {name}\u2026',
      upload_failed: 'Kunde inte skicka {name}.',
      file_too_large: '{name} \u00e4r f\u00f6r stor (gr\u00e4nsen \u00e4r {size} MB).',
      file_type: '{name} kan inte skickas: bara bilder (PNG, JPEG, GIF, WebP) och PDF-filer \u00e4r till\u00e5tna.',
      download: 'Ladda ner {name}',
      open_image: '\u00d6ppna {name}',
      transcript: 'Ladda ner utskrift',
      transcript_failed: 'Kunde inte ladda ner utskriften.',
      end: 'Avsluta chatten',
      rate_title: 'Hur var chatten?',
      rate_star: '{n} av 5 stj\u00e4rnor',
      rate_comment: 'Kommentar (valfritt)',
      rate_submit: 'Skicka betyget',
      rate_pick: 'V\u00e4lj mellan 1 och 5 stj\u00e4rnor.',
      rated: 'Tack f\u00f6r ditt omd\u00f6me!',
      new_chat: 'Starta en ny chatt',
      messages: 'Meddelanden',
      rate_limited: 'Du skickar meddelanden f\u00f6r snabbt. V\u00e4nta en stund.',
    },
    de: {
      launcher: 'Chatten Sie mit uns',
      launcher_unread: 'Chatten Sie mit uns ({count} neu)',
      title: 'Chat',
      close: 'Chatfenster schlie\u00dfen',
      language: 'Sprache',
      loading: 'Wird geladen\u2026',
      unavailable: 'Der Chat ist gerade nicht verf\u00fcgbar. Bitte versuchen Sie es sp\u00e4ter noch einmal.',
      retry: 'Erneut versuchen',
      prechat_title: 'Chat starten',
      prechat_intro: 'Nennen Sie uns Ihren Namen und Ihr Anliegen, dann verbinden wir Sie mit jemandem.',
      offline_title: 'Nachricht hinterlassen',
      offline_closed: 'Wir haben gerade geschlossen. Hinterlassen Sie eine Nachricht, wir melden uns bei Ihnen.',
      offline_busy: 'Gerade ist niemand erreichbar. Hinterlassen Sie eine Nachricht, wir melden uns bei Ihnen.',
      name: 'Ihr Name',
      email: 'E-Mail (optional)',
      topic: 'Thema',
      message: 'Nachricht',
      start: 'Chat beginnen',
      send_message: 'Nachricht senden',
      error_name: 'Bitte geben Sie Ihren Namen ein.',
      error_email: 'Bitte geben Sie eine g\u00fcltige E-Mail-Adresse ein.',
      error_message: 'Bitte schreiben Sie eine Nachricht.',
      error_too_long: 'Diese Nachricht ist zu lang.',
      error_generic: 'Etwas ist schiefgelaufen. Bitte versuchen Sie es noch einmal.',
      expired: 'Ihr fr\u00fcherer Chat ist nicht mehr verf\u00fcgbar. Sie k\u00f6nnen einen neuen beginnen.',
      connecting: 'Verbindung wird hergestellt\u2026',
      reconnecting: 'Verbindung unterbrochen. Neuer Versuch\u2026',
      waiting: 'Warten auf eine Antwort\u2026',
      waiting_position: 'Warten auf eine Antwort. Sie sind Nummer {position} in der Warteschlange.',
      offline_sent: 'Vielen Dank! Wir haben Ihre Nachricht erhalten und antworten Ihnen hier.',
      chatting_with: 'Sie chatten mit {name}.',
      ended: 'Der Chat wurde beendet.',
      you: 'Sie',
      agent: 'Mitarbeiter',
      typing: '{name} schreibt\u2026',
      sending: 'Wird gesendet\u2026',
      sent: 'Gesendet',
      read: 'Gelesen',
      not_sent: 'Nicht gesendet',
      compose: 'Nachricht schreiben',
      send: 'Senden',
      attach: 'Bild oder PDF anh\u00e4ngen',
      uploading: '{name} wird gesendet\u2026',
      upload_failed: '{name} konnte nicht gesendet werden.',
      file_too_large: '{name} ist zu gro\u00df (h\u00f6chstens {size} MB).',
      file_type: '{name} kann nicht gesendet werden: nur Bilder (PNG, JPEG, GIF, WebP) und PDF-Dateien sind erlaubt.',
      download: '{name} herunterladen',
      open_image: '{name} \u00f6ffnen',
      transcript: 'Verlauf herunterladen',
      transcript_failed: 'Der Verlauf konnte nicht heruntergeladen werden.',
      end: 'Chat beenden',
      rate_title: 'Wie war dieser Chat?',
      rate_star: '{n} von 5 Sternen',
      rate_comment: 'Kommentar (optional)',
      rate_submit: 'Bewertung senden',
      rate_pick: 'Bitte w\u00e4hlen Sie 1 bis 5 Sterne.',
      rated: 'Vielen Dank f\u00fcr Ihre R\u00fcckmeldung!',
      new_chat: 'Neuen Chat beginnen',
      messages: 'Nachrichten',
      rate_limited: 'Sie senden zu schnell. Bitte warten Sie einen Moment.',
    },
    hu: {
      launcher: 'Csevegjen vel\u00fcnk',
      launcher_unread: 'Csevegjen vel\u00fcnk ({count} \u00faj)',
      title: 'Cseveg\u00e9s',
      close: 'A cseveg\u0151ablak bez\u00e1r\u00e1sa',
      language: 'Nyelv',
      loading: 'Bet\u00f6lt\u00e9s\u2026',
      unavailable: 'A cseveg\u00e9s most nem \u00e9rhet\u0151 el. K\u00e9rj\u00fck, pr\u00f3b\u00e1lja \u00fajra k\u00e9s\u0151bb.',
      retry: '\u00dajrapr\u00f3b\u00e1l\u00e1s',
      prechat_title: 'Cseveg\u00e9s ind\u00edt\u00e1sa',
      prechat_intro: 'Adja meg a nev\u00e9t \u00e9s azt, hogy miben seg\u00edthet\u00fcnk, \u00e9s \u00f6sszekapcsoljuk egy munkat\u00e1rsunkkal.',
      offline_title: 'Hagyjon \u00fczenetet',
      offline_closed: 'Most z\u00e1rva vagyunk. Hagyjon \u00fczenetet, \u00e9s jelentkez\u00fcnk.',
      offline_busy: 'Most senki sem \u00e9rhet\u0151 el. Hagyjon \u00fczenetet, \u00e9s jelentkez\u00fcnk.',
      name: 'Az \u00d6n neve',
      email: 'E-mail (nem k\u00f6telez\u0151)',
      topic: 'T\u00e9ma',
      message: '\u00dczenet',
      start: 'Cseveg\u00e9s kezd\u00e9se',
      send_message: '\u00dczenet k\u00fcld\u00e9se',
      error_name: 'K\u00e9rj\u00fck, adja meg a nev\u00e9t.',
      error_email: 'K\u00e9rj\u00fck, \u00e9rv\u00e9nyes e-mail-c\u00edmet adjon meg.',
      error_message: 'K\u00e9rj\u00fck, \u00edrjon \u00fczenetet.',
      error_too_long: 'Ez az \u00fczenet t\u00fal hossz\u00fa.',
      error_generic: 'Hiba t\u00f6rt\u00e9nt. K\u00e9rj\u00fck, pr\u00f3b\u00e1lja \u00fajra.',
      expired: 'A kor\u00e1bbi cseveg\u00e9se m\u00e1r nem \u00e9rhet\u0151 el. Ind\u00edthat \u00fajat.',
      connecting: 'Kapcsol\u00f3d\u00e1s\u2026',
      reconnecting: 'Megszakadt a kapcsolat. \u00dajrakapcsol\u00f3d\u00e1s\u2026',
      waiting: 'V\u00e1rakoz\u00e1s v\u00e1laszra\u2026',
      waiting_position: 'V\u00e1rakoz\u00e1s v\u00e1laszra. \u00d6n a(z) {position}. a sorban.',
      offline_sent: 'K\u00f6sz\u00f6nj\u00fck! Megkaptuk az \u00fczenet\u00e9t, \u00e9s itt v\u00e1laszolunk.',
      chatting_with: '\u00d6n most vele cseveg: {name}.',
      ended: 'A cseveg\u00e9s v\u00e9get \u00e9rt.',
      you: '\u00d6n',
      agent: '\u00dcgyint\u00e9z\u0151',
      typing: '{name} \u00e9ppen \u00edr\u2026',
      sending: 'K\u00fcld\u00e9s\u2026',
      sent: 'Elk\u00fcldve',
      read: 'Olvasva',
      not_sent: 'Nem lett elk\u00fcldve',
      compose: '\u00cdrjon \u00fczenetet',
      send: 'K\u00fcld\u00e9s',
      attach: 'K\u00e9p vagy PDF csatol\u00e1sa',
      uploading: '{name} k\u00fcld\u00e9se\u2026',
      upload_failed: '{name} k\u00fcld\u00e9se nem siker\u00fclt.',
      file_too_large: '{name} t\u00fal nagy (legfeljebb {size} MB lehet).',
      file_type: '{name} nem k\u00fcldhet\u0151 el: csak k\u00e9pek (PNG, JPEG, GIF, WebP) \u00e9s PDF-f\u00e1jlok enged\u00e9lyezettek.',
      download: '{name} let\u00f6lt\u00e9se',
      open_image: '{name} megnyit\u00e1sa',
      transcript: '\u00c1tirat let\u00f6lt\u00e9se',
      transcript_failed: 'Az \u00e1tirat let\u00f6lt\u00e9se nem siker\u00fclt.',
      end: 'Cseveg\u00e9s befejez\u00e9se',
      rate_title: 'Milyen volt ez a cseveg\u00e9s?',
      rate_star: '5-b\u0151l {n} csillag',
      rate_comment: 'Megjegyz\u00e9s (nem k\u00f6telez\u0151)',
      rate_submit: '\u00c9rt\u00e9kel\u00e9s k\u00fcld\u00e9se',
      rate_pick: 'K\u00e9rj\u00fck, v\u00e1lasszon 1\u20135 csillagot.',
      rated: 'K\u00f6sz\u00f6nj\u00fck a visszajelz\u00e9s\u00e9t!',
      new_chat: '\u00daj cseveg\u00e9s ind\u00edt\u00e1sa',
      messages: '\u00dczenetek',
      rate_limited: 'T\u00fal gyorsan k\u00fcld \u00fczeneteket. K\u00e9rj\u00fck, v\u00e1rjon egy kicsit.',
    },
    lt: {
      launcher: 'Ra\u0161ykite mums',
      launcher_unread: 'Ra\u0161ykite mums ({count} naujos)',
      title: 'Pokalbis',
      close: 'U\u017edaryti pokalbio lang\u0105',
      language: 'Kalba',
      loading: '\u012ekeliama\u2026',
      unavailable: 'Pokalbis \u0161iuo metu nepasiekiamas. Bandykite v\u0117liau.',
      retry: 'Bandyti dar kart\u0105',
      prechat_title: 'Prad\u0117ti pokalb\u012f',
      prechat_intro: 'Nurodykite savo vard\u0105 ir klausimo tem\u0105 \u2013 sujungsime jus su darbuotoju.',
      offline_title: 'Palikite \u017einut\u0119',
      offline_closed: '\u0160iuo metu nedirbame. Palikite \u017einut\u0119 ir mes jums atsakysime.',
      offline_busy: '\u0160iuo metu niekas negali atsakyti. Palikite \u017einut\u0119 ir mes jums atsakysime.',
      name: 'J\u016bs\u0173 vardas',
      email: 'El. pa\u0161tas (neprivaloma)',
      topic: 'Tema',
      message: '\u017dinut\u0117',
      start: 'Prad\u0117ti',
      send_message: 'Si\u0173sti \u017einut\u0119',
      error_name: '\u012eveskite savo vard\u0105.',
      error_email: '\u012eveskite teising\u0105 el. pa\u0161to adres\u0105.',
      error_message: 'Para\u0161ykite \u017einut\u0119.',
      error_too_long: '\u0160i \u017einut\u0117 per ilga.',
      error_generic: 'Ka\u017ekas nepavyko. Bandykite dar kart\u0105.',
      expired: 'Ankstesnis pokalbis nebepasiekiamas. Galite prad\u0117ti nauj\u0105.',
      connecting: 'Jungiamasi\u2026',
      reconnecting: 'Ry\u0161ys nutr\u016bko. Jungiamasi i\u0161 naujo\u2026',
      waiting: 'Laukiama atsakymo\u2026',
      waiting_position: 'Laukiama atsakymo. J\u016bs\u0173 vieta eil\u0117je: {position}.',
      offline_sent: 'A\u010di\u016b! Gavome j\u016bs\u0173 \u017einut\u0119 ir atsakysime jums \u010dia.',
      chatting_with: 'J\u016bs kalbat\u0117s su {name}.',
      ended: 'Pokalbis baigtas.',
      you: 'J\u016bs',
      agent: 'Darbuotojas',
      typing: '{name} ra\u0161o\u2026',
      sending: 'Siun\u010diama\u2026',
      sent: 'I\u0161si\u0173sta',
      read: 'Perskaityta',
      not_sent: 'Nei\u0161si\u0173sta',
      compose: 'Ra\u0161ykite \u017einut\u0119',
      send: 'Si\u0173sti',
      attach: 'Prid\u0117ti paveiksl\u0117l\u012f arba PDF',
      uploading: 'Siun\u010diama: {name}\u2026',
      upload_failed: 'Nepavyko i\u0161si\u0173sti: {name}.',
      file_too_large: '{name} per didelis (ne daugiau kaip {size} MB).',
      file_type: '{name} negalima i\u0161si\u0173sti: leid\u017eiami tik paveiksl\u0117liai (PNG, JPEG, GIF, WebP) ir PDF failai.',
      download: 'Atsisi\u0173sti {name}',
      open_image: 'Atidaryti {name}',
      transcript: 'Atsisi\u0173sti pokalbio i\u0161ra\u0161\u0105',
      transcript_failed: 'Nepavyko atsisi\u0173sti i\u0161ra\u0161o.',
      end: 'Baigti pokalb\u012f',
      rate_title: 'Kaip vertinate \u0161\u012f pokalb\u012f?',
      rate_star: '{n} i\u0161 5 \u017evaig\u017edu\u010di\u0173',
      rate_comment: 'Komentaras (neprivaloma)',
      rate_submit: 'Si\u0173sti \u012fvertinim\u0105',
      rate_pick: 'Pasirinkite nuo 1 iki 5 \u017evaig\u017edu\u010di\u0173.',
      rated: 'A\u010di\u016b u\u017e atsiliepim\u0105!',
      new_chat: 'Prad\u0117ti nauj\u0105 pokalb\u012f',
      messages: '\u017dinut\u0117s',
      rate_limited: 'Siun\u010diate \u017einutes per greitai. Palaukite akimirk\u0105.',
    },
  };

  // Outside a browser (the i18n test loads this file in a bare VM
  // context) there is nothing to draw: hand out the tables and stop.
  if (typeof document === 'undefined' || typeof window === 'undefined') {
    if (typeof globalThis !== 'undefined') globalThis.HotlineWidgetStrings = STRINGS;
    return;
  }

  var LANGS = ['en', 'sv', 'de', 'hu', 'lt'];
  var LANG_NAMES = { en: 'English', sv: 'Svenska', de: 'Deutsch', hu: 'Magyar', lt: 'Lietuvi\u0173' };
  var MAX_TEXT_BYTES = 16384;
  var MAX_NAME = 100;
  var MAX_EMAIL = 254;
  var IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
  var FILE_TYPES = IMAGE_TYPES.concat(['application/pdf']);
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var TYPING_IDLE_MS = 3000;   // send typing off after this long without a key
  var TYPING_SHOW_MS = 15000;  // hide the agent's indicator when no update comes
  var KEEP_MESSAGES = 500;     // messages kept in sessionStorage
  var BURST = 10;              // frames: the server allows 20 a second; we
  var PER_SECOND = 10;         // send at most 10 a second after a burst of 10

  // ---- where we come from ------------------------------------------------

  function findScript() {
    var list = document.querySelectorAll('script[src]');
    for (var i = list.length - 1; i >= 0; i--) {
      if (/\/widget\.js([?#].*)?$/.test(list[i].src)) return list[i];
    }
    return null;
  }
  var script = document.currentScript || findScript();
  if (!script || !script.src) return;
  var base;
  try {
    base = new URL(script.src, location.href).origin;
  } catch (e) {
    return;
  }
  var queueParam = (script.getAttribute('data-queue') || '').trim();
  var MARK = '__hotlineChat:' + base;
  if (window[MARK]) return; // the snippet was pasted twice
  try {
    Object.defineProperty(window, MARK, { value: true });
  } catch (e) { /* frozen window: carry on */ }

  var STORE_KEY = 'hotline-chat:' + base;

  // ---- strings -------------------------------------------------------------

  function browserLanguage() {
    var prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
    for (var i = 0; i < prefs.length; i++) {
      var code = String(prefs[i]).toLowerCase().split('-')[0];
      if (LANGS.indexOf(code) >= 0) return code;
    }
    return 'en';
  }

  function t(key, params) {
    var s = (STRINGS[S.lang] || STRINGS.en)[key];
    if (s === undefined) s = STRINGS.en[key];
    if (s === undefined) return key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, p) { return p in params ? String(params[p]) : m; });
    }
    return s;
  }

  // Nodes whose text or attributes are strings: a language switch rewrites
  // them in place, so form input and scroll position survive it.
  var bound = new Map();
  function binding(node) {
    var b = bound.get(node);
    if (!b) {
      b = { text: null, attrs: {} };
      bound.set(node, b);
    }
    return b;
  }
  function T(node, key, params) {
    binding(node).text = key ? [key, params] : null;
    node.textContent = key ? t(key, params) : '';
    return node;
  }
  function A(node, attr, key, params) {
    binding(node).attrs[attr] = [key, params];
    node.setAttribute(attr, t(key, params));
    return node;
  }
  function relabel() {
    bound.forEach(function (b, node) {
      if (!node.isConnected) {
        bound.delete(node);
        return;
      }
      if (b.text) node.textContent = t(b.text[0], b.text[1]);
      Object.keys(b.attrs).forEach(function (a) {
        node.setAttribute(a, t(b.attrs[a][0], b.attrs[a][1]));
      });
    });
  }

  // ---- state -------------------------------------------------------------------

  var S = {
    lang: browserLanguage(),
    open: false,
    token: null,
    conversation: null,
    state: null,        // queued | active | ended
    agent: null,        // the agent's display name
    position: null,
    offline: false,     // started from the message form
    agentRead: 0,       // the agent has read our messages up to this seq
    rated: false,
    messages: [],       // stored messages, ascending seq
    outbox: [],         // [{client_id, text}] not yet acknowledged
    startText: null,    // the message form's text until the server stores it
    form: { name: '', email: '', topic: null, text: '' },
  };
  var failed = [];      // [{client_id, text}] refused by the server (not kept)
  var seqSet = new Set();
  var clientSet = new Set();

  function loadSaved() {
    var raw = null;
    try {
      raw = window.sessionStorage.getItem(STORE_KEY);
    } catch (e) { /* storage disabled */ }
    if (!raw) return;
    var d;
    try {
      d = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (!d || typeof d !== 'object') return;
    if (LANGS.indexOf(d.lang) >= 0) S.lang = d.lang;
    S.open = !!d.open;
    if (d.form && typeof d.form === 'object') {
      S.form.name = String(d.form.name || '');
      S.form.email = String(d.form.email || '');
    }
    if (typeof d.token !== 'string' || !d.token) return;
    S.token = d.token;
    S.conversation = d.conversation || null;
    S.state = d.state || 'queued';
    S.agent = typeof d.agent === 'string' ? d.agent : null;
    S.offline = !!d.offline;
    S.agentRead = Number(d.agentRead) || 0;
    S.rated = !!d.rated;
    S.startText = typeof d.startText === 'string' ? d.startText : null;
    (Array.isArray(d.messages) ? d.messages : []).forEach(function (m) { storeMessage(m); });
    (Array.isArray(d.outbox) ? d.outbox : []).forEach(function (o) {
      if (o && typeof o.client_id === 'string' && typeof o.text === 'string' && !clientSet.has(o.client_id)) {
        S.outbox.push({ client_id: o.client_id, text: o.text });
      }
    });
  }

  function save() {
    var d = {
      lang: S.lang, open: S.open, form: { name: S.form.name, email: S.form.email },
    };
    if (S.token) {
      d.token = S.token;
      d.conversation = S.conversation;
      d.state = S.state;
      d.agent = S.agent;
      d.offline = S.offline;
      d.agentRead = S.agentRead;
      d.rated = S.rated;
      d.startText = S.startText;
      d.messages = S.messages.slice(-KEEP_MESSAGES);
      d.outbox = S.outbox;
    }
    try {
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(d));
    } catch (e) { /* full or disabled: the chat still works, without reload */ }
  }

  function maxSeq() {
    return S.messages.length ? S.messages[S.messages.length - 1].seq : 0;
  }

  // Keep one stored message (sorted, unique by seq and client_id). Returns
  // its index, or -1 when it was a duplicate or malformed.
  function storeMessage(m) {
    if (!m || typeof m !== 'object') return -1;
    var seq = m.seq;
    if (typeof seq !== 'number' || !isFinite(seq) || seq < 1 || Math.floor(seq) !== seq) return -1;
    if (seqSet.has(seq)) return -1;
    var cid = typeof m.client_id === 'string' && m.client_id ? m.client_id : null;
    if (cid && clientSet.has(cid)) return -1;
    var a = m.attachment && typeof m.attachment === 'object' ? {
      id: m.attachment.id,
      name: String(m.attachment.name || ''),
      mime: String(m.attachment.mime || ''),
      size: Number(m.attachment.size) || 0,
    } : null;
    var msg = {
      seq: seq,
      client_id: cid,
      from: m.from === 'agent' || m.from === 'system' ? m.from : 'customer',
      name: typeof m.name === 'string' ? m.name : '',
      text: typeof m.text === 'string' ? m.text : '',
      ts: m.ts,
      attachment: a,
    };
    var i = S.messages.length;
    while (i > 0 && S.messages[i - 1].seq > seq) i--;
    S.messages.splice(i, 0, msg);
    seqSet.add(seq);
    if (cid) clientSet.add(cid);
    return i;
  }

  function resetConversation() {
    disconnect();
    S.token = null;
    S.conversation = null;
    S.state = null;
    S.agent = null;
    S.position = null;
    S.offline = false;
    S.agentRead = 0;
    S.rated = false;
    S.messages = [];
    S.outbox = [];
    S.startText = null;
    S.form.text = '';
    failed = [];
    seqSet = new Set();
    clientSet = new Set();
    pendingStart = null;
    wantEnd = false;
    wantRate = null;
    blobs.forEach(function (p) {
      p.then(function (x) { URL.revokeObjectURL(x.url); }, function () {});
    });
    blobs.clear();
    save();
  }

  function newClientId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    var s = '';
    for (var j = 0; j < 16; j++) s += (b[j] < 16 ? '0' : '') + b[j].toString(16);
    return s;
  }

  function utf8Length(s) {
    return new TextEncoder().encode(s).length;
  }

  // ---- DOM helpers ---------------------------------------------------------

  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = String(v);
        else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden') el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // Line icons (24x24, stroked with the current colour), drawn as SVG so
  // they do not depend on the visitor's fonts.
  var ICONS = {
    chat: 'M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 ' +
      '8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z',
    clip: 'M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5',
    send: 'M22 2L11 13M22 2l-7 20-4-9-9-4z',
    close: 'M18 6L6 18M6 6l12 12',
  };
  function icon(name, size) {
    var NS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(NS, 'svg');
    var attrs = { viewBox: '0 0 24 24', width: String(size || 20), height: String(size || 20), fill: 'none',
      stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round',
      'aria-hidden': 'true', focusable: 'false' };
    Object.keys(attrs).forEach(function (k) { svg.setAttribute(k, attrs[k]); });
    var path = document.createElementNS(NS, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.append(path);
    return svg;
  }

  var uidN = 0;
  function uid(p) {
    uidN += 1;
    return 'hlw-' + p + '-' + uidN;
  }

  var CSS_TEXT = [
    ':host{all:initial}',
    '*,*::before,*::after{box-sizing:border-box}',
    '[hidden]{display:none!important}',
    '.root{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Liberation Sans",sans-serif;color:#1d2330;',
    '  -webkit-font-smoothing:antialiased;text-align:left;direction:ltr}',
    '.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}',
    'button,input,select,textarea{font:inherit;color:inherit;margin:0}',
    ':focus-visible{outline:3px solid #f5b400;outline-offset:2px}',
    '.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;height:52px;',
    '  padding:0 20px;border:0;border-radius:26px;background:#1f5fbf;color:#fff;font-weight:600;cursor:pointer;',
    '  box-shadow:0 4px 16px rgba(0,0,0,.25)}',
    '.launcher:hover{background:#174a96}',
    '.launcher svg{flex:none}',
    '.badge{min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#b3261e;color:#fff;font-size:12px;',
    '  line-height:20px;text-align:center}',
    '.panel{position:fixed;right:20px;bottom:84px;z-index:2147483001;display:flex;flex-direction:column;width:370px;',
    '  max-width:calc(100vw - 24px);height:580px;max-height:calc(100vh - 104px);background:#fff;border-radius:12px;',
    '  box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}',
    '@media (max-width:480px){.panel{left:0;right:0;top:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;',
    '  border-radius:0}.root.is-open .launcher{display:none}}',
    '.head{display:flex;align-items:flex-start;gap:8px;padding:12px 12px 10px 16px;background:#1f5fbf;color:#fff}',
    '.head .titles{flex:1;min-width:0}',
    '.head h2{margin:0;font-size:16px;font-weight:600}',
    '.head .status{margin:2px 0 0;font-size:12.5px;opacity:.95;overflow-wrap:anywhere}',
    '.head select{max-width:110px;padding:3px 4px;border:1px solid rgba(255,255,255,.6);border-radius:4px;background:#1f5fbf;',
    '  color:#fff;font-size:12.5px}',
    '.iconbtn{display:flex;align-items:center;justify-content:center;width:32px;height:32px;flex:none;border:0;',
    '  border-radius:6px;background:transparent;color:inherit;padding:0;cursor:pointer}',
    '.iconbtn:hover{background:rgba(255,255,255,.18)}',
    '.body{flex:1;min-height:0;display:flex;flex-direction:column}',
    '.scroll{flex:1;min-height:0;overflow-y:auto;padding:16px}',
    '.form h3{margin:0 0 6px;font-size:16px}',
    '.form p.intro{margin:0 0 12px;color:#5d6778}',
    '.field{margin:0 0 12px}',
    '.field label{display:block;margin:0 0 4px;font-weight:600;font-size:13px}',
    '.field input,.field select,.field textarea{display:block;width:100%;padding:8px 10px;border:1px solid #c3c9d3;',
    '  border-radius:6px;background:#fff}',
    '.field textarea{min-height:96px;resize:vertical}',
    '.field [aria-invalid="true"]{border-color:#b3261e}',
    '.ferr{margin:4px 0 0;color:#b3261e;font-size:13px}',
    '.btn{display:inline-block;padding:9px 16px;border:1px solid #1f5fbf;border-radius:6px;background:#1f5fbf;color:#fff;',
    '  font-weight:600;cursor:pointer}',
    '.btn:hover{background:#174a96}',
    '.btn[disabled]{opacity:.6;cursor:default}',
    '.btn.secondary{background:#fff;color:#1f5fbf}',
    '.btn.secondary:hover{background:#e8f0fc}',
    '.btn.small{padding:4px 10px;font-size:13px;font-weight:500}',
    '.notice{margin:0 0 12px;padding:8px 10px;border-radius:6px;background:#eef2f7}',
    '.notice.error{background:#fdecea;color:#8c1d18}',
    '.notice.ok{background:#e6f4ea;color:#14532d}',
    '.toolbar{display:flex;gap:8px;justify-content:flex-end;padding:6px 12px;border-bottom:1px solid #dde1e7}',
    '.notices{padding:0 12px}',
    '.notices .notice{margin:8px 0 0}',
    '.log{flex:1;min-height:0;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}',
    '.msg{max-width:85%;display:flex;flex-direction:column}',
    '.msg.customer{align-self:flex-end;align-items:flex-end}',
    '.msg.agent{align-self:flex-start;align-items:flex-start}',
    '.msg.system{align-self:center;max-width:95%;color:#5d6778;font-style:italic;text-align:center;font-size:13px}',
    '.msg .meta{font-size:11.5px;color:#5d6778;margin:0 4px 2px}',
    '.bubble{padding:8px 11px;border-radius:12px;background:#eef2f7;max-width:100%}',
    '.msg.customer .bubble{background:#1f5fbf;color:#fff}',
    '.msg.system .bubble{background:transparent;padding:2px 4px}',
    '.msg.pending .bubble{opacity:.7}',
    '.msg.failed .bubble{background:#fdecea;color:#8c1d18}',
    '.text{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}',
    '.msg .state{font-size:11.5px;color:#5d6778;margin:2px 4px 0}',
    '.attach{margin-top:4px}',
    '.attach img{display:block;max-width:200px;max-height:200px;border-radius:6px;background:#fff}',
    '.attach a{color:inherit}',
    '.msg.customer .attach .btn.secondary{color:#1f5fbf}',
    '.typing{min-height:20px;padding:0 14px 2px;font-size:12.5px;color:#5d6778;font-style:italic}',
    '.composer{display:flex;align-items:flex-end;gap:6px;padding:8px;border-top:1px solid #dde1e7}',
    '.composer textarea{flex:1;min-height:40px;max-height:120px;padding:8px 10px;border:1px solid #c3c9d3;border-radius:6px;',
    '  resize:none}',
    '.composer .iconbtn{color:#1f5fbf;width:40px;height:40px}',
    '.composer .iconbtn[disabled]{opacity:.4;cursor:default}',
    '.composer .iconbtn:hover{background:#e8f0fc}',
    '.endbox{padding:12px 16px;border-top:1px solid #dde1e7;max-height:60%;overflow-y:auto}',
    '.endbox p{margin:0 0 8px}',
    '.stars{border:0;margin:0 0 8px;padding:0}',
    '.stars legend{padding:0;margin:0 0 4px;font-weight:600}',
    '.stars .row{display:flex;gap:2px}',
    '.star{position:relative}',
    '.star input{position:absolute;opacity:0;width:1px;height:1px}',
    '.star label{display:block;font-size:28px;line-height:1;padding:2px 3px;color:#c3c9d3;cursor:pointer;border-radius:4px}',
    '.star label.on{color:#e0a100}',
    '.star input:focus-visible+label{outline:3px solid #f5b400}',
    '.actions{display:flex;gap:8px;flex-wrap:wrap;margin-top:8px}',
  ].join('\n');

  // ---- the shell ---------------------------------------------------------------

  var host, shadow, rootEl, launcher, launcherText, badge, panel, titleEl, statusEl, langSel, body;
  var view = null;       // 'loading' | 'form' | 'error' | 'chat'
  var chat = null;       // the chat view's elements while shown
  var unread = 0;
  var config = null;

  function buildShell() {
    host = document.createElement('hotline-chat');
    host.setAttribute('data-base', base);
    // Inline !important beats any page rule aimed at our element.
    ['all:initial', 'display:block', 'position:static', 'width:0', 'height:0'].forEach(function (d) {
      var i = d.indexOf(':');
      host.style.setProperty(d.slice(0, i), d.slice(i + 1), 'important');
    });
    shadow = host.attachShadow({ mode: 'open' });
    var sheetDone = false;
    try {
      // A constructed sheet is not subject to the host page's style-src CSP.
      if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet === 'function') {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS_TEXT);
        shadow.adoptedStyleSheets = [sheet];
        sheetDone = true;
      }
    } catch (e) { /* fall back to a style element */ }
    if (!sheetDone) shadow.append(h('style', { text: CSS_TEXT }));

    rootEl = h('div', { class: 'root', lang: S.lang });
    var panelId = uid('panel');
    launcherText = h('span');
    badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
    launcher = h('button', {
      type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': panelId,
      onclick: function () { if (S.open) closePanel(); else openPanel(true); },
    }, icon('chat', 22), launcherText, badge);

    var titleId = uid('title');
    titleEl = T(h('h2', { id: titleId }), 'title');
    statusEl = h('p', { class: 'status', role: 'status' });
    langSel = h('select', { onchange: function () { setLanguage(langSel.value); } });
    A(langSel, 'aria-label', 'language');
    A(langSel, 'title', 'language');
    LANGS.forEach(function (code) {
      langSel.append(h('option', { value: code, lang: code, text: LANG_NAMES[code] }));
    });
    langSel.value = S.lang;
    var closeBtn = h('button', { type: 'button', class: 'iconbtn', onclick: function () { closePanel(); } },
      icon('close', 18));
    A(closeBtn, 'aria-label', 'close');
    A(closeBtn, 'title', 'close');
    body = h('div', { class: 'body' });
    panel = h('section', { class: 'panel', id: panelId, role: 'dialog', 'aria-labelledby': titleId, hidden: true },
      h('div', { class: 'head' }, h('div', { class: 'titles' }, titleEl, statusEl), langSel, closeBtn),
      body);
    panel.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        closePanel();
      }
    });
    rootEl.append(launcher, panel);
    shadow.append(rootEl);
    renderLauncher();
    (document.body || document.documentElement).append(host);
  }

  function renderLauncher() {
    if (unread > 0) {
      T(launcherText, 'launcher_unread', { count: unread });
      badge.textContent = String(unread);
      badge.hidden = false;
    } else {
      T(launcherText, 'launcher');
      badge.hidden = true;
    }
  }

  function setLanguage(code) {
    if (LANGS.indexOf(code) < 0) code = 'en';
    S.lang = code;
    rootEl.setAttribute('lang', code);
    langSel.value = code;
    relabel();
    if (chat) {
      chat.items.forEach(function (el) { renderTime(el); });
    }
    save();
  }

  function openPanel(focus) {
    S.open = true;
    panel.hidden = false;
    rootEl.classList.add('is-open');
    launcher.setAttribute('aria-expanded', 'true');
    unread = 0;
    renderLauncher();
    save();
    if (!view) chooseView(focus);
    else if (focus) focusView();
    if (chat) scrollToEnd(true);
    maybeSendRead();
  }

  function closePanel() {
    S.open = false;
    panel.hidden = true;
    rootEl.classList.remove('is-open');
    launcher.setAttribute('aria-expanded', 'false');
    save();
    launcher.focus();
  }

  function focusView() {
    if (panel.hidden) return;
    var target = null;
    if (view === 'form') {
      target = body.querySelector('[aria-invalid="true"]') ||
        Array.prototype.find.call(body.querySelectorAll('input, textarea'), function (x) { return !x.value; }) ||
        body.querySelector('button[type="submit"]');
    } else if (view === 'chat' && chat) {
      if (!chat.composer.hidden) target = chat.input;
      else target = chat.endbox.querySelector('input, button');
    } else {
      target = body.querySelector('button');
    }
    if (target) target.focus();
  }

  function chooseView(focus) {
    if (S.token || pendingStart) showChat(focus);
    else loadConfig(focus);
  }

  // ---- the config and the forms ----------------------------------------------

  function showLoading() {
    view = 'loading';
    chat = null;
    T(statusEl, null);
    body.replaceChildren(h('div', { class: 'scroll' }, T(h('p', { role: 'status' }), 'loading')));
  }

  function showError(key, retry) {
    view = 'error';
    chat = null;
    T(statusEl, null);
    var btn = T(h('button', { type: 'button', class: 'btn', onclick: retry }), 'retry');
    body.replaceChildren(h('div', { class: 'scroll' },
      T(h('p', { class: 'notice error', role: 'alert' }), key), btn));
  }

  function loadConfig(focus, notice) {
    showLoading();
    var url = base + '/api/v1/chat/config' + (queueParam ? '?queue=' + encodeURIComponent(queueParam) : '');
    fetch(url, { credentials: 'omit', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('config ' + r.status);
      return r.json();
    }).then(function (c) {
      config = c && typeof c === 'object' ? c : {};
      if (S.token || pendingStart) return; // resumed meanwhile
      showForm(focus, notice);
    }).catch(function () {
      showError('unavailable', function () { loadConfig(true, notice); });
      if (focus) focusView();
    });
  }

  function topics() {
    var list = Array.isArray(config && config.topics) ? config.topics.filter(function (x) {
      return x && (typeof x.queue_id === 'number' || typeof x.queue_id === 'string');
    }) : [];
    if (!list.length && config && config.queue && config.queue.id != null) {
      list = [{ queue_id: config.queue.id, name: config.queue.name || '', open: config.open !== false,
        agents_available: config.agents_available, agents_logged_in: config.agents_logged_in }];
    }
    return list;
  }

  function showForm(focus, notice) {
    var list = topics();
    if (!list.length) {
      showError('unavailable', function () { loadConfig(true); });
      if (focus) focusView();
      return;
    }
    view = 'form';
    chat = null;
    T(statusEl, null);
    // The page's queue (data-queue, a name or an id) among the topics, else
    // the server's pick.
    var mine = queueParam ? list.find(function (x) {
      return String(x.queue_id) === queueParam || String(x.name) === queueParam;
    }) : null;
    var dflt = mine ? mine.queue_id : config.queue && config.queue.id != null ? config.queue.id : list[0].queue_id;
    if (S.form.topic == null || !list.some(function (x) { return String(x.queue_id) === String(S.form.topic); })) {
      S.form.topic = list.some(function (x) { return String(x.queue_id) === String(dflt); }) ? dflt : list[0].queue_id;
    }
    var current = function () {
      return list.find(function (x) { return String(x.queue_id) === String(S.form.topic); }) || list[0];
    };
    var isOffline = function () {
      var tp = current();
      // The message form when the queue is closed or nobody is logged in to
      // it; agents who are busy or on a break still mean a live chat that
      // waits in the queue.
      var staffed = tp.agents_logged_in != null ? tp.agents_logged_in : tp.agents_available;
      return tp.open === false || !(Number(staffed) > 0);
    };

    var heading = h('h3');
    var intro = h('p', { class: 'intro' });
    var alertBox = h('p', { class: 'notice error', role: 'alert', hidden: true });
    var info = notice ? T(h('p', { class: 'notice' }), notice) : null;

    function field(key, control, hint) {
      var id = uid('f');
      var errId = id + '-err';
      control.id = id;
      var err = h('p', { class: 'ferr', id: errId, hidden: true });
      control.setAttribute('aria-describedby', errId);
      var wrap = h('div', { class: 'field' }, T(h('label', { for: id }), key), control, err);
      wrap.setError = function (k) {
        if (k) {
          T(err, k);
          err.hidden = false;
          control.setAttribute('aria-invalid', 'true');
        } else {
          T(err, null);
          err.hidden = true;
          control.removeAttribute('aria-invalid');
        }
      };
      return wrap;
    }

    var nameIn = h('input', { type: 'text', autocomplete: 'name', maxlength: String(MAX_NAME), required: true,
      value: S.form.name, name: 'name', oninput: function () { S.form.name = nameIn.value; } });
    var emailIn = h('input', { type: 'email', autocomplete: 'email', maxlength: String(MAX_EMAIL),
      value: S.form.email, name: 'email', oninput: function () { S.form.email = emailIn.value; } });
    var topicSel = h('select', { name: 'topic' });
    list.forEach(function (x) {
      topicSel.append(h('option', { value: String(x.queue_id), text: String(x.name || '') }));
    });
    topicSel.value = String(S.form.topic);
    var textIn = h('textarea', { rows: '4', name: 'message', value: S.form.text,
      oninput: function () { S.form.text = textIn.value; } });
    var nameF = field('name', nameIn);
    var emailF = field('email', emailIn);
    var topicF = field('topic', topicSel);
    var textF = field('message', textIn);
    topicF.hidden = list.length < 2;
    var submit = h('button', { type: 'submit', class: 'btn' });

    function mode() {
      var off = isOffline();
      var tp = current();
      T(heading, off ? 'offline_title' : 'prechat_title');
      T(intro, off ? (tp.open === false ? 'offline_closed' : 'offline_busy') : 'prechat_intro');
      T(submit, off ? 'send_message' : 'start');
      textF.hidden = !off;
      form.setAttribute('data-mode', off ? 'offline' : 'chat');
    }
    topicSel.addEventListener('change', function () {
      S.form.topic = topicSel.value;
      mode();
    });

    var form = h('form', { class: 'form', novalidate: true }, heading, intro, info, alertBox,
      nameF, emailF, topicF, textF, h('div', { class: 'actions' }, submit));
    mode();
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var off = isOffline();
      var name = nameIn.value.trim();
      var email = emailIn.value.trim();
      var text = textIn.value.trim();
      nameF.setError(null);
      emailF.setError(null);
      textF.setError(null);
      alertBox.hidden = true;
      var bad = null;
      if (!name || name.length > MAX_NAME) {
        nameF.setError('error_name');
        bad = bad || nameIn;
      }
      if (email && (email.length > MAX_EMAIL || !/^[^@\s]+@[^@\s]+$/.test(email))) {
        emailF.setError('error_email');
        bad = bad || emailIn;
      }
      if (off && !text) {
        textF.setError('error_message');
        bad = bad || textIn;
      } else if (off && utf8Length(text) > MAX_TEXT_BYTES) {
        textF.setError('error_too_long');
        bad = bad || textIn;
      }
      if (bad) {
        bad.focus();
        return;
      }
      var tp = current();
      S.form.name = name;
      S.form.email = email;
      var frame = { type: 'start', queue: Number(tp.queue_id), name: name, language: S.lang };
      if (email) frame.email = email;
      if (tp.name) frame.topic = String(tp.name);
      if (off) {
        frame.offline = true;
        frame.text = text;
      }
      S.offline = off;
      S.startText = off ? text : null;
      S.form.text = '';
      pendingStart = frame;
      save();
      showChat(true);
      connect();
    });
    form.showServerError = function (field, key) {
      var f = field === 'name' ? nameF : field === 'email' ? emailF : field === 'text' ? textF : null;
      if (f && !f.hidden) f.setError(key);
      else {
        T(alertBox, key);
        alertBox.hidden = false;
      }
    };
    currentForm = form;
    body.replaceChildren(h('div', { class: 'scroll' }, form));
    if (focus) focusView();
  }
  var currentForm = null;

  // ---- the chat view ---------------------------------------------------------

  function showChat(focus) {
    view = 'chat';
    currentForm = null;
    var log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', tabindex: '0' });
    A(log, 'aria-label', 'messages');
    var notices = h('div', { class: 'notices', 'aria-live': 'polite' });
    var typing = h('div', { class: 'typing', 'aria-live': 'polite' });
    var transcriptBtn = T(h('button', { type: 'button', class: 'btn secondary small', onclick: downloadTranscript }),
      'transcript');
    var endBtn = T(h('button', { type: 'button', class: 'btn secondary small', onclick: endChat }), 'end');
    var toolbar = h('div', { class: 'toolbar' }, transcriptBtn, endBtn);

    var input = h('textarea', { rows: '1', maxlength: String(MAX_TEXT_BYTES) });
    A(input, 'aria-label', 'compose');
    A(input, 'placeholder', 'compose');
    var fileIn = h('input', { type: 'file', accept: FILE_TYPES.join(','), hidden: true, tabindex: '-1' });
    var attachBtn = h('button', { type: 'button', class: 'iconbtn', onclick: function () { fileIn.click(); } },
      icon('clip'));
    A(attachBtn, 'aria-label', 'attach');
    A(attachBtn, 'title', 'attach');
    var sendBtn = h('button', { type: 'submit', class: 'iconbtn' }, icon('send'));
    A(sendBtn, 'aria-label', 'send');
    A(sendBtn, 'title', 'send');
    var composer = h('form', { class: 'composer' }, input, fileIn, attachBtn, sendBtn);
    composer.addEventListener('submit', function (ev) {
      ev.preventDefault();
      sendFromComposer();
    });
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        sendFromComposer();
      }
    });
    input.addEventListener('input', onComposerInput);
    fileIn.addEventListener('change', function () {
      var files = Array.prototype.slice.call(fileIn.files || []);
      fileIn.value = '';
      files.forEach(upload);
    });
    var endbox = h('div', { class: 'endbox', hidden: true });

    chat = {
      log: log, notices: notices, typing: typing, input: input, composer: composer, fileIn: fileIn,
      attachBtn: attachBtn, endbox: endbox, endBtn: endBtn, transcriptBtn: transcriptBtn,
      items: new Map(), // seq or 'c:'+client_id or 'start' -> element
      offlineNote: null, endShown: null,
    };
    body.replaceChildren(toolbar, notices, log, typing, endbox, composer);
    S.messages.forEach(function (m, i) { insertMessage(m, i); });
    if (S.startText !== null) insertPending('start', S.startText);
    S.outbox.forEach(function (o) { insertPending(o.client_id, o.text); });
    failed.forEach(function (o) { insertPending(o.client_id, o.text, true); });
    renderState();
    scrollToEnd(true);
    if (focus) focusView();
  }

  function addNotice(key, params, kind) {
    if (!chat) return null;
    var n = T(h('p', { class: 'notice' + (kind ? ' ' + kind : ''), role: kind === 'error' ? 'alert' : null }), key, params);
    chat.notices.append(n);
    if (kind === 'error') {
      setTimeout(function () { n.remove(); }, 8000);
    }
    return n;
  }

  var everOnline = false;
  function renderState() {
    // The header's status line says where the chat is.
    var connected = ready;
    if (!S.token && !pendingStart) {
      T(statusEl, null);
    } else if (!connected && S.state !== 'ended') {
      T(statusEl, everOnline ? 'reconnecting' : 'connecting');
    } else if (S.state === 'ended') {
      T(statusEl, 'ended');
    } else if (S.state === 'active' && S.agent) {
      T(statusEl, 'chatting_with', { name: S.agent });
    } else if (S.position > 0) {
      T(statusEl, 'waiting_position', { position: S.position });
    } else {
      T(statusEl, 'waiting');
    }
    if (!chat) return;
    var ended = S.state === 'ended';
    var haveToken = !!S.token;
    chat.transcriptBtn.hidden = !haveToken;
    chat.endBtn.hidden = ended || !haveToken;
    chat.attachBtn.disabled = !haveToken || !ready;
    chat.composer.hidden = ended;
    // After the message form: say we will answer, until an agent joins.
    if (S.offline && haveToken && S.state === 'queued' && !chat.offlineNote) {
      chat.offlineNote = addNotice('offline_sent', null, 'ok');
    } else if (chat.offlineNote && S.state !== 'queued') {
      chat.offlineNote.remove();
      chat.offlineNote = null;
    }
    if (ended) {
      if (chat.typing) T(chat.typing, null);
      renderEnd();
    } else {
      chat.endbox.hidden = true;
      chat.endShown = null;
    }
    updateStatuses();
  }

  function renderEnd() {
    if (!chat) return;
    var what = S.rated ? 'rated' : 'rate';
    if (chat.endShown === what) return;
    var hadFocus = chat.endbox.contains(shadow.activeElement) || shadow.activeElement === chat.input ||
      shadow.activeElement === chat.endBtn || !shadow.activeElement;
    chat.endShown = what;
    chat.endbox.hidden = false;
    var newBtn = T(h('button', { type: 'button', class: 'btn secondary', onclick: function () {
      resetConversation();
      loadConfig(true);
    } }), 'new_chat');
    if (S.rated) {
      chat.endbox.replaceChildren(T(h('p', { role: 'status' }), 'rated'), h('div', { class: 'actions' }, newBtn));
    } else {
      var chosen = 0;
      var group = h('div', { class: 'row' });
      var labels = [];
      var gname = uid('rating');
      var paint = function (n) {
        labels.forEach(function (l, i) { l.className = i < n ? 'on' : ''; });
      };
      for (var n = 1; n <= 5; n++) {
        (function (n) {
          var id = uid('star');
          var radio = h('input', { type: 'radio', name: gname, value: String(n), id: id });
          radio.addEventListener('change', function () {
            chosen = n;
            paint(n);
            err.hidden = true;
          });
          var lab = h('label', { for: id }, h('span', { 'aria-hidden': 'true', text: '\u2605' }),
            T(h('span', { class: 'sr-only' }), 'rate_star', { n: n }));
          lab.addEventListener('mouseenter', function () { paint(n); });
          lab.addEventListener('mouseleave', function () { paint(chosen); });
          labels.push(lab);
          group.append(h('span', { class: 'star' }, radio, lab));
        })(n);
      }
      var legend = T(h('legend'), 'rate_title');
      var stars = h('fieldset', { class: 'stars' }, legend, group);
      var err = T(h('p', { class: 'ferr', role: 'alert', hidden: true }), 'rate_pick');
      var cid = uid('comment');
      var comment = h('textarea', { id: cid, rows: '2', maxlength: '1000' });
      var submit = T(h('button', { type: 'submit', class: 'btn' }), 'rate_submit');
      var form = h('form', { class: 'rate', novalidate: true }, stars, err,
        h('div', { class: 'field' }, T(h('label', { for: cid }), 'rate_comment'), comment),
        h('div', { class: 'actions' }, submit, newBtn));
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        if (!chosen) {
          err.hidden = false;
          var first = group.querySelector('input');
          if (first) first.focus();
          return;
        }
        var frame = { type: 'rate', rating: chosen };
        var c = comment.value.trim();
        if (c) frame.comment = c;
        wantRate = frame;
        submit.disabled = true;
        sendFrame(frame);
      });
      chat.endbox.replaceChildren(form);
    }
    if (hadFocus && !panel.hidden) {
      var f = chat.endbox.querySelector('input, button');
      if (f) f.focus();
    }
  }

  function fmtTime(ts) {
    var d = null;
    if (typeof ts === 'number') d = new Date(ts < 1e12 ? ts * 1000 : ts);
    else if (typeof ts === 'string' && ts) d = new Date(ts);
    if (!d || isNaN(d.getTime())) return '';
    try {
      return d.toLocaleTimeString(S.lang, { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return '';
    }
  }

  function renderTime(el) {
    if (el.timeEl && el.msg) el.timeEl.textContent = fmtTime(el.msg.ts);
  }

  function messageElement(m) {
    var el = h('div', { class: 'msg ' + m.from });
    el.msg = m;
    el.setAttribute('data-seq', String(m.seq));
    el.setAttribute('data-from', m.from);
    if (m.client_id) el.setAttribute('data-client-id', m.client_id);
    if (m.from !== 'system') {
      var who = h('span', { class: 'who' });
      if (m.from === 'customer') T(who, 'you');
      else if (m.name || S.agent) who.textContent = m.name || S.agent;
      else T(who, 'agent');
      el.timeEl = h('span', { class: 'time' });
      renderTime(el);
      el.append(h('div', { class: 'meta' }, who, ' \u00b7 ', el.timeEl));
    }
    var bubble = h('div', { class: 'bubble' });
    if (m.text) bubble.append(h('div', { class: 'text', text: m.text }));
    if (m.attachment) bubble.append(attachmentElement(m.attachment));
    el.append(bubble);
    if (m.from === 'customer') {
      el.stateEl = h('div', { class: 'state' });
      el.append(el.stateEl);
    }
    return el;
  }

  function insertMessage(m, index) {
    if (!chat) return;
    var el = messageElement(m);
    chat.items.set(m.seq, el);
    // Before the next stored message, or before the first pending one.
    var next = S.messages[index + 1];
    var before = next ? chat.items.get(next.seq) : chat.log.querySelector('.msg.pending, .msg.failed');
    chat.log.insertBefore(el, before || null);
    if (m.from === 'customer') renderStatus(el);
  }

  function insertPending(key, text, isFailed) {
    if (!chat) return;
    var el = h('div', { class: 'msg customer ' + (isFailed ? 'failed' : 'pending') });
    if (key !== 'start') el.setAttribute('data-client-id', key);
    el.append(h('div', { class: 'meta' }, T(h('span', { class: 'who' }), 'you')),
      h('div', { class: 'bubble' }, h('div', { class: 'text', text: text })));
    el.stateEl = T(h('div', { class: 'state' }), isFailed ? 'not_sent' : 'sending');
    el.append(el.stateEl);
    chat.items.set(key === 'start' ? 'start' : 'c:' + key, el);
    chat.log.append(el);
  }

  function removePending(key) {
    if (!chat) return;
    var k = key === 'start' ? 'start' : 'c:' + key;
    var el = chat.items.get(k);
    if (el) {
      el.remove();
      chat.items.delete(k);
    }
  }

  function renderStatus(el) {
    if (!el.stateEl || !el.msg) return;
    T(el.stateEl, el.msg.seq <= S.agentRead ? 'read' : 'sent');
  }

  function updateStatuses() {
    if (!chat) return;
    chat.items.forEach(function (el) {
      if (el.msg && el.msg.from === 'customer') renderStatus(el);
    });
  }

  function nearEnd() {
    var l = chat && chat.log;
    return !l || l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (!chat) return;
    if (force || chat.stick) chat.log.scrollTop = chat.log.scrollHeight;
  }

  // ---- attachments and downloads ----------------------------------------------

  var blobs = new Map(); // attachment id -> Promise<object URL>

  function fetchBlob(path) {
    return fetch(base + path, { headers: { 'X-Chat-Token': S.token }, credentials: 'omit' }).then(function (r) {
      if (!r.ok) throw new Error(path + ' ' + r.status);
      return r.blob();
    });
  }

  // Resolves to {blob, url}: the file fetched with the token, and an object URL.
  function attachmentBlob(id) {
    var key = String(id);
    if (!blobs.has(key)) {
      var p = fetchBlob('/api/v1/chat/attachments/' + encodeURIComponent(key)).then(function (b) {
        return { blob: b, url: URL.createObjectURL(b) };
      });
      p.catch(function () { blobs.delete(key); });
      blobs.set(key, p);
    }
    return blobs.get(key);
  }

  function saveAs(url, filename) {
    var a = h('a', { href: url, download: filename || 'download', rel: 'noopener', hidden: true });
    shadow.append(a);
    a.click();
    a.remove();
  }

  function sizeText(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MB';
    if (n >= 1024) return Math.round(n / 1024) + ' KB';
    return n + ' B';
  }

  function attachmentElement(a) {
    var wrap = h('div', { class: 'attach' });
    var name = a.name || 'file';
    var download = function () {
      attachmentBlob(a.id).then(function (x) { saveAs(x.url, name); }, function () {
        addNotice('upload_failed', { name: name }, 'error');
      });
    };
    if (IMAGE_TYPES.indexOf(a.mime) >= 0) {
      var img = h('img', { alt: name });
      var link = h('a', { target: '_blank', rel: 'noopener noreferrer' }, img);
      A(link, 'title', 'open_image', { name: name });
      wrap.append(link);
      attachmentBlob(a.id).then(function (x) {
        // A host page whose CSP leaves blob: out of img-src (Hotline's own
        // pages allow only 'self' and data:) gets the image as a data URL.
        img.addEventListener('error', function () {
          if (img.src.slice(0, 5) !== 'blob:') return;
          var fr = new FileReader();
          fr.onload = function () {
            if (typeof fr.result === 'string' && fr.result.slice(0, 11) === 'data:image/') img.src = fr.result;
          };
          fr.readAsDataURL(x.blob);
        }, { once: true });
        img.src = x.url;
        link.href = x.url;
      }, function () {
        link.replaceWith(T(h('button', { type: 'button', class: 'btn secondary small', onclick: download }),
          'download', { name: name }));
      });
    } else {
      var btn = h('button', { type: 'button', class: 'btn secondary small', onclick: download });
      T(btn, 'download', { name: name + ' (' + sizeText(a.size) + ')' });
      wrap.append(btn);
    }
    return wrap;
  }

  function upload(file) {
    if (!S.token || !chat) return;
    var name = file.name || 'file';
    var limit = (config && Number(config.max_attachment_bytes)) || 10485760;
    if (FILE_TYPES.indexOf(file.type) < 0) {
      addNotice('file_type', { name: name }, 'error');
      return;
    }
    if (file.size > limit) {
      addNotice('file_too_large', { name: name, size: Math.floor(limit / 1048576) }, 'error');
      return;
    }
    var note = addNotice('uploading', { name: name });
    fetch(base + '/api/v1/chat/attachments', {
      method: 'POST',
      credentials: 'omit',
      headers: { 'X-Chat-Token': S.token, 'X-Filename': encodeURIComponent(name), 'Content-Type': file.type },
      body: file,
    }).then(function (r) {
      if (r.status === 201) {
        return r.json().then(function (m) { addMessage(m); }, function () {});
      }
      if (r.status === 413) addNotice('file_too_large', { name: name, size: Math.floor(limit / 1048576) }, 'error');
      else if (r.status === 415) addNotice('file_type', { name: name }, 'error');
      else addNotice('upload_failed', { name: name }, 'error');
      return null;
    }).catch(function () {
      addNotice('upload_failed', { name: name }, 'error');
    }).then(function () {
      if (note) note.remove();
    });
  }

  function downloadTranscript() {
    if (!S.token) return;
    fetchBlob('/api/v1/chat/transcript').then(function (b) {
      var u = URL.createObjectURL(b);
      saveAs(u, 'chat-' + (S.conversation || 'transcript') + '.txt');
      setTimeout(function () { URL.revokeObjectURL(u); }, 60000);
    }).catch(function () {
      addNotice('transcript_failed', null, 'error');
    });
  }

  // ---- the connection ------------------------------------------------------------

  var ws = null;
  var ready = false;          // started or resumed on this connection
  var attempt = 0;
  var reconnectTimer = null;
  var pendingStart = null;    // the start frame until `started`
  var wantEnd = false;
  var wantRate = null;
  var readSent = 0;           // per connection
  var typingOn = false;
  var typingTimer = null;
  var agentTypingTimer = null;
  var sendQueue = [];
  var tokens = BURST;
  var lastRefill = 0;
  var pumpTimer = null;

  function wantConnection() {
    return !!pendingStart || !!(S.token && !(S.state === 'ended' && S.rated));
  }

  function connect() {
    if (reconnectTimer) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
    if (ws || !wantConnection()) return;
    var sock;
    try {
      sock = new WebSocket(base.replace(/^http/, 'ws') + '/api/v1/chat/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    ready = false;
    readSent = 0;
    sock.onopen = function () {
      if (ws !== sock) return;
      if (S.token) enqueue({ type: 'resume', token: S.token, after: maxSeq() });
      else if (pendingStart) enqueue(pendingStart);
    };
    sock.onmessage = function (ev) {
      if (ws !== sock || typeof ev.data !== 'string') return;
      var m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (m && typeof m === 'object') handleFrame(m);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      ready = false;
      typingOn = false;
      sendQueue = [];
      showAgentTyping(false);
      renderState();
      if (wantConnection()) scheduleReconnect();
    };
    sock.onerror = function () { /* onclose follows */ };
    renderState();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var d = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    attempt = Math.min(attempt + 1, 10);
    d = Math.min(BACKOFF_MAX_MS, d * (0.8 + Math.random() * 0.4));
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, d);
  }

  function disconnect() {
    if (reconnectTimer) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
    var s = ws;
    ws = null;
    ready = false;
    sendQueue = [];
    if (s) {
      try {
        s.close(1000);
      } catch (e) { /* already closing */ }
    }
  }

  // Frames go out through a small token bucket (the server refuses more
  // than 20 a second); typing frames are dropped when a queue has built up.
  function enqueue(obj, droppable) {
    if (!ws) return false;
    if (droppable && sendQueue.length) return false;
    sendQueue.push(JSON.stringify(obj));
    pump();
    return true;
  }
  function sendFrame(obj, droppable) {
    if (!ready) return false;
    return enqueue(obj, droppable);
  }
  function pump() {
    var now = Date.now();
    tokens = Math.min(BURST, tokens + (now - lastRefill) * PER_SECOND / 1000);
    lastRefill = now;
    while (sendQueue.length && tokens >= 1 && ws && ws.readyState === 1) {
      try {
        ws.send(sendQueue.shift());
      } catch (e) {
        break;
      }
      tokens -= 1;
    }
    if (sendQueue.length && !pumpTimer) {
      pumpTimer = setTimeout(function () {
        pumpTimer = null;
        pump();
      }, 110);
    }
  }

  function afterReady() {
    ready = true;
    everOnline = true;
    attempt = 0;
    renderState();
    S.outbox.forEach(function (o) {
      sendFrame({ type: 'message', client_id: o.client_id, text: o.text });
    });
    if (wantEnd && S.state !== 'ended') sendFrame({ type: 'end' });
    if (wantRate && !S.rated && S.state === 'ended') sendFrame(wantRate);
    if (chat && chat.input.value.trim()) onComposerInput();
    maybeSendRead();
  }

  function handleFrame(m) {
    switch (m.type) {
      case 'started':
        if (typeof m.token !== 'string' || !m.token) return;
        S.token = m.token;
        S.conversation = m.conversation != null ? m.conversation : null;
        S.state = m.state || 'queued';
        pendingStart = null;
        save();
        afterReady();
        break;
      case 'resumed':
        S.state = m.state || S.state;
        S.agent = m.agent && typeof m.agent.name === 'string' ? m.agent.name : null;
        if (m.rating != null) S.rated = true;
        save();
        afterReady();
        break;
      case 'message':
        addMessage(m);
        break;
      case 'state':
        if (m.state) S.state = m.state;
        S.agent = m.agent && typeof m.agent.name === 'string' ? m.agent.name : null;
        S.position = typeof m.position === 'number' ? m.position : null;
        if (S.state === 'ended') {
          wantEnd = false;
          showAgentTyping(false);
          failOutbox();
        }
        save();
        renderState();
        break;
      case 'typing':
        showAgentTyping(!!m.on, typeof m.name === 'string' ? m.name : '');
        break;
      case 'read':
        if (typeof m.seq === 'number' && m.seq > S.agentRead) {
          S.agentRead = m.seq;
          save();
          updateStatuses();
        }
        break;
      case 'rated':
        S.rated = true;
        wantRate = null;
        save();
        renderState();
        if (!wantConnection()) disconnect();
        break;
      case 'error':
        handleError(m);
        break;
      default:
        break;
    }
  }

  function handleError(m) {
    var code = m.code;
    if (m.client_id) {
      var i = S.outbox.findIndex(function (o) { return o.client_id === m.client_id; });
      if (i < 0) return;
      var o = S.outbox[i];
      if (code === 'rate_limited' || code === 'unavailable') {
        setTimeout(function () {
          if (S.outbox.indexOf(o) >= 0) sendFrame({ type: 'message', client_id: o.client_id, text: o.text });
        }, 1000 + Math.random() * 1000);
        if (code === 'rate_limited') addNotice('rate_limited', null, 'error');
        return;
      }
      S.outbox.splice(i, 1);
      failed.push(o);
      save();
      removePending(o.client_id);
      insertPending(o.client_id, o.text, true);
      if (code === 'closed' && S.state !== 'ended') {
        S.state = 'ended';
        save();
        renderState();
      }
      return;
    }
    if (!ready) {
      if (code === 'not_found' && S.token) {
        // The token is unknown (expired or another server): start over.
        resetConversation();
        if (!panel.hidden) {
          loadConfig(true, 'expired');
        } else {
          view = null;
          chat = null;
        }
        return;
      }
      if (pendingStart && (code === 'invalid' || code === 'closed' || code === 'not_found')) {
        pendingStart = null;
        S.startText = null;
        disconnect();
        var field = m.field;
        loadConfigThen(function () {
          if (currentForm) currentForm.showServerError(field, field === 'email' ? 'error_email'
            : field === 'name' ? 'error_name' : field === 'text' ? 'error_too_long' : 'error_generic');
        });
        return;
      }
      // unavailable or rate_limited before start/resume: retry later.
      if (ws) {
        try {
          ws.close();
        } catch (e) { /* closing */ }
      }
      return;
    }
    if (code === 'closed') {
      if (S.state !== 'ended') {
        S.state = 'ended';
        save();
        renderState();
      }
      wantEnd = false;
    } else if (code === 'rate_limited') {
      addNotice('rate_limited', null, 'error');
    } else if (wantRate && !S.rated && code === 'invalid' && m.field && /rating|comment/.test(m.field)) {
      wantRate = null;
      addNotice('error_generic', null, 'error');
      if (chat) {
        chat.endShown = null;
        renderEnd();
      }
    }
  }

  function loadConfigThen(fn) {
    showLoading();
    var url = base + '/api/v1/chat/config' + (queueParam ? '?queue=' + encodeURIComponent(queueParam) : '');
    fetch(url, { credentials: 'omit', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('config');
      return r.json();
    }).then(function (c) {
      config = c || {};
      showForm(true);
      fn();
    }).catch(function () {
      showError('unavailable', function () { loadConfig(true); });
    });
  }

  function failOutbox() {
    if (!S.outbox.length) return;
    S.outbox.forEach(function (o) {
      failed.push(o);
      removePending(o.client_id);
      insertPending(o.client_id, o.text, true);
    });
    S.outbox = [];
  }

  function addMessage(m) {
    var stick = nearEnd();
    var index = storeMessage(m);
    if (index < 0) return;
    var msg = S.messages[index];
    if (msg.from === 'customer') {
      if (msg.client_id) {
        var i = S.outbox.findIndex(function (o) { return o.client_id === msg.client_id; });
        if (i >= 0) S.outbox.splice(i, 1);
        removePending(msg.client_id);
      }
      if (S.startText !== null) {
        S.startText = null;
        removePending('start');
      }
    } else if (msg.from === 'agent') {
      showAgentTyping(false);
      if (!S.open) {
        unread += 1;
        renderLauncher();
      }
    }
    save();
    if (chat) {
      insertMessage(msg, index);
      chat.stick = stick || msg.from === 'customer';
      scrollToEnd(false);
    }
    maybeSendRead();
  }

  function showAgentTyping(on, name) {
    if (agentTypingTimer) {
      clearTimeout(agentTypingTimer);
      agentTypingTimer = null;
    }
    if (!chat) return;
    if (on && S.state !== 'ended') {
      T(chat.typing, 'typing', { name: name || S.agent || t('agent') });
      agentTypingTimer = setTimeout(function () { showAgentTyping(false); }, TYPING_SHOW_MS);
    } else {
      T(chat.typing, null);
    }
  }

  function maybeSendRead() {
    if (!ready || !S.open || document.visibilityState === 'hidden') return;
    var top = maxSeq();
    if (top > readSent && sendFrame({ type: 'read', seq: top })) readSent = top;
  }

  function onComposerInput() {
    if (!chat) return;
    var has = chat.input.value.trim() !== '';
    if (typingTimer) {
      clearTimeout(typingTimer);
      typingTimer = null;
    }
    if (!has) {
      stopTyping();
      return;
    }
    if (!typingOn && sendFrame({ type: 'typing', on: true }, true)) typingOn = true;
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    if (typingTimer) {
      clearTimeout(typingTimer);
      typingTimer = null;
    }
    if (typingOn) {
      typingOn = false;
      sendFrame({ type: 'typing', on: false });
    }
  }

  function sendFromComposer() {
    if (!chat || S.state === 'ended' || (!S.token && !pendingStart)) return;
    var text = chat.input.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    if (utf8Length(text) > MAX_TEXT_BYTES) {
      addNotice('error_too_long', null, 'error');
      return;
    }
    chat.input.value = '';
    stopTyping();
    var o = { client_id: newClientId(), text: text };
    S.outbox.push(o);
    save();
    insertPending(o.client_id, text);
    chat.stick = true;
    scrollToEnd(true);
    sendFrame({ type: 'message', client_id: o.client_id, text: text });
  }

  function endChat() {
    if (!S.token || S.state === 'ended') return;
    wantEnd = true;
    stopTyping();
    sendFrame({ type: 'end' });
    if (!ready) connect();
  }

  // ---- start -----------------------------------------------------------------------

  function init() {
    loadSaved();
    buildShell();
    if (S.token) connect();
    if (S.open) openPanel(false);
    document.addEventListener('visibilitychange', maybeSendRead);
    window.addEventListener('online', function () {
      if (!ws && wantConnection()) {
        attempt = 0;
        connect();
      }
    });
  }

  if (document.body) init();
  else document.addEventListener('DOMContentLoaded', init, { once: true });
})();
